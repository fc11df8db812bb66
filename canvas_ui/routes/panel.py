"""The property panel of one node: GET shows its form, POST validates it.

A successful POST answers the re-rendered panel plus the updated node (summary line, ports)
in an ``HX-Trigger: node-updated`` event, which ``canvas.js`` applies to the graph in place
and then autosaves. An invalid form answers 422 with the inline errors (``app.js`` tells
htmx 2 to swap 422 responses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import httpx
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from sqlmodel import Session

from activities.channels import ProviderConfigError, build_providers
from activities.channels.wechat import WeChatClient, WeChatSettings
from activities.channels.wecom import WeComClient, WeComSettings
from activities.providers import MessageProvider
from canvas_ui import queries
from canvas_ui.deps import CurrentPrincipal, SessionDep
from canvas_ui.forms.render import ChoiceData
from canvas_ui.i18n import gettext
from canvas_ui.kinds import KindInfo, kind_info
from canvas_ui.panel import PanelView, find_node, panel_view, submit_panel
from canvas_ui.placeholders import upstream_ids
from canvas_ui.routes.pages import editor_response, journey_or_404
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from canvas_ui.words import MESSAGE_STATUS_LABELS
from db.models import UserAccount, utcnow
from db.session import in_thread, write_session_factory
from services import message_preview
from services.accounts import Principal

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@dataclass
class _Panel:
    """Template-facing wrapper: the view plus its choice data (for datalists)."""

    view: PanelView
    choices: ChoiceData
    #: customers at this step of the published journey now (None: a step not published)
    waiting: queries.WaitingHere | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.view, name)


def _kind(node: dict[str, Any] | None, kind: str | None) -> KindInfo:
    wanted = (node or {}).get("kind") or kind or ""
    info = kind_info(str(wanted))
    if info is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            gettext("kind: unknown node kind %(kind)s.") % {"kind": wanted},
        )
    return info


@router.get("/journeys/{journey_id}/nodes/{node_id}/panel")
def get_panel(
    journey_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    kind: str | None = Query(default=None, max_length=32),
) -> Response:
    """The node's config form (htmx: the ``panel`` block; else the editor with it open)."""
    journey = journey_or_404(session, journey_id)
    document = journey.draft_document
    node = find_node(document, node_id)
    info = _kind(node, kind)
    if node is None:
        # Not saved yet (just dropped): show the kind's starting config.
        node = {"id": node_id, "kind": info.kind.value, "config": dict(info.default_config)}
    choices = queries.choice_data(session=session, document=document, node_id=node_id)
    ctx = queries.summary_context(session=session)
    waiting = queries.waiting_here(session=session, journey=journey, node_id=node_id)
    panel = _Panel(panel_view(node=node, info=info, choices=choices, ctx=ctx), choices, waiting)
    if request.headers.get("hx-request") != "true":
        return editor_response(request, session, journey, version=None, panel=panel)
    return render(
        request,
        "editor.html",
        {
            "journey": journey,
            "panel": panel,
            "choices": choices,
        },
        block="panel",
        force_block=True,
    )


@router.post("/journeys/{journey_id}/nodes/{node_id}/panel")
async def post_panel(
    journey_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    kind: str | None = Query(default=None, max_length=32),
) -> Response:
    """Validate the posted config; 200 + ``node-updated`` event, or 422 with inline errors."""
    form = await request.form()
    fields = {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}
    return await in_thread(_submit, request, session, journey_id, node_id, kind, fields)


def _submit(
    request: Request,
    session: Session,
    journey_id: str,
    node_id: str,
    kind: str | None,
    fields: dict[str, list[str]],
) -> Response:
    journey = journey_or_404(session, journey_id)
    document = journey.draft_document
    node = find_node(document, node_id)
    info = _kind(node, kind)
    choices = queries.choice_data(session=session, document=document, node_id=node_id)
    ctx = queries.summary_context(session=session)
    view, code = submit_panel(
        node_id=node_id,
        kind=info.kind.value,
        form=fields,
        choices=choices,
        ctx=ctx,
        position=(node or {}).get("position"),
    )
    waiting = queries.waiting_here(session=session, journey=journey, node_id=node_id)
    headers = {}
    if view.node is not None:
        event = {"node-updated": {"node": view.node, "meta": view.meta}}
        # ensure_ascii: HTTP headers are latin-1; JSON \u escapes keep Chinese labels intact.
        headers["HX-Trigger"] = json.dumps(event, ensure_ascii=True)
    return render(
        request,
        "editor.html",
        {
            "journey": journey,
            "panel": _Panel(view, choices, waiting),
            "choices": choices,
        },
        block="panel",
        force_block=True,
        status_code=code,
        headers=headers,
    )


# --------------------------------------------------------------------------- preview, test send
# The send_message panel's "Preview" and "Send a test to me" (issue 16 item 5): the text as
# it stands in the panel (applied or not), rendered by the worker's renderer.

#: Channels whose test goes to the sender's own openid under the official account.
WECHAT_CHANNELS = ("wechat_template", "wechat_subscribe")


def _test_provider(request: Request, channel: str, address: str) -> MessageProvider:
    """The provider journeys use for ``channel`` (``activities.channels.build_providers``,
    from the same ``JOURNEYS_*`` variables as the worker), built once per app; tests put
    their own registry in ``app.state.test_send_providers``. A WeCom test is an app message
    to ``address`` (the sender's WeCom userid) when the WeCom app is configured, a WeChat
    template / subscribe test goes to ``address`` (the sender's openid) when the official
    account is; else it stays in the outbox like the journeys' messages of the channel."""
    state = request.app.state
    if channel == "wecom" and getattr(state, "test_send_providers", None) is None:
        wecom = WeComSettings()
        if wecom.app_configured:
            client = WeComClient(wecom, httpx.Client(timeout=wecom.timeout_seconds))
            return message_preview.WeComAppTest(client, address)
    if channel in WECHAT_CHANNELS and getattr(state, "test_send_providers", None) is None:
        wechat = WeChatSettings()
        if wechat.configured:
            wx = WeChatClient(wechat, httpx.Client(timeout=wechat.timeout_seconds))
            return message_preview.WeChatOpenidTest(wx, address, channel)
    registry = getattr(state, "test_send_providers", None)
    if registry is None:
        try:
            registry = build_providers(
                webhook_secret=state.settings.webhook_secret,
                http=httpx.Client(timeout=10.0),
                sessions=write_session_factory(state.engine),
            )
        except ProviderConfigError as exc:
            raise message_preview.PreviewInputError("provider", str(exc)) from exc
        state.test_send_providers = registry
    provider = registry.get(channel)
    if provider is None:
        raise message_preview.PreviewInputError("provider", f"no provider for {channel!r}")
    return cast(MessageProvider, provider)


@router.post("/journeys/{journey_id}/nodes/{node_id}/preview")
async def post_preview(
    journey_id: str, node_id: str, request: Request, session: SessionDep, actor: CurrentPrincipal
) -> Response:
    """The message rendered for the chosen (or the synthetic) customer."""
    form = await request.form()
    fields = {key: str(form.get(key) or "") for key in form}
    return await in_thread(_preview, request, session, journey_id, node_id, fields, None)


@router.post("/journeys/{journey_id}/nodes/{node_id}/test-send")
async def post_test_send(
    journey_id: str, node_id: str, request: Request, session: SessionDep, actor: CurrentPrincipal
) -> Response:
    """Render as the preview does, then send it to the signed-in user's own phone / e-mail."""
    form = await request.form()
    fields = {key: str(form.get(key) or "") for key in form}
    return await in_thread(_preview, request, session, journey_id, node_id, fields, actor)


def _preview(
    request: Request,
    session: Session,
    journey_id: str,
    node_id: str,
    fields: dict[str, str],
    sender: Principal | None,
) -> Response:
    journey = journey_or_404(session, journey_id)
    document = journey.draft_document
    found = document.get("nodes")
    nodes: list[Any] = found if isinstance(found, list) else []
    kinds = {str(n.get("id")): str(n.get("kind")) for n in nodes if isinstance(n, dict)}
    upstream = {n: kinds.get(n, "") for n in upstream_ids(document, node_id)}
    now = utcnow()
    context: dict[str, Any] = {"preview": None, "sent": None, "error": "", "field": ""}
    try:
        shown = message_preview.preview(
            session,
            channel=fields.get("config.channel", "sms") or "sms",
            content=fields.get("config.content", ""),
            subject=fields.get("config.subject", ""),
            customer_query=fields.get("preview_customer", "")[:64],
            upstream=upstream,
            now=now,
        )
        context["preview"] = shown
        if sender is not None:
            account = session.get(UserAccount, sender.user_id)
            if account is None:
                raise message_preview.PreviewInputError("account", "sign in again")
            if fields.get("my_address", "").strip():  # typed in after "your profile has none"
                message_preview.set_test_address(
                    session, account=account, channel=shown.channel, value=fields["my_address"]
                )
            # where it goes first: a channel that cannot be tested needs no provider
            address = message_preview.test_address(session, account=account, channel=shown.channel)
            context["sent"] = message_preview.test_send(
                session,
                provider=_test_provider(request, shown.channel, address),
                account=account,
                message=shown,
                journey_id=journey.id,
                node_id=node_id,
                now=now,
            )
    except message_preview.PreviewInputError as exc:
        context.update(error=_preview_error(exc), field=exc.field)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if context["error"] else status.HTTP_200_OK
    context["status_words"] = {k: gettext(v) for k, v in MESSAGE_STATUS_LABELS.items()}
    return render(request, "_message_preview.html", context, status_code=code)


def _preview_error(exc: message_preview.PreviewInputError) -> str:
    """The preview's refusal in the user's language (the service's words as the detail)."""
    worded = {
        "content": gettext("The message text does not render: %(detail)s"),
        "subject": gettext("The subject does not render: %(detail)s"),
        "customer": gettext("No customer matches that id or name (%(detail)s)."),
        "channel": gettext("This channel cannot be tested here: %(detail)s"),
        "phone": gettext("Which phone number should test messages go to? Type it below."),
        "email": gettext("Which e-mail address should test messages go to? Type it below."),
        "wecom_userid": gettext(
            "Which WeCom account (userid) should test messages go to? Type it below."
        ),
        "wechat_openid": gettext(
            "Which WeChat account (your openid under the official account) should test "
            "messages go to? Type it below."
        ),
        "my_address": gettext("That does not look right: %(detail)s"),
        "provider": gettext("The provider did not take the test: %(detail)s"),
    }.get(exc.field, "%(detail)s")
    return worded % {"detail": exc.message} if "%(detail)s" in worded else worded
