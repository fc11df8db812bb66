"""E-mail over SMTP (stdlib ``smtplib``: activities run their work in threads here).

The address is the customer's ``attributes.email``. Each message carries a ``Message-ID``
made from the outbox message id, so a receiving system can drop a duplicate of a retry.
A 4xx answer is "try later" (RFC 5321), a 5xx one is "never" (the node's ``on_failure``);
a refused login names the variables to fix.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

from activities.channels.config import ChannelSettings, env_name
from activities.channels.errors import ProviderAuthError, ProviderCheckError
from activities.providers import (
    Delivery,
    MessageRejectedError,
    OutboundMessage,
    ThrottledError,
    TransientDeliveryError,
)

NAME = "smtp"
CREDENTIALS = (env_name("smtp_username"), env_name("smtp_password"))


class SmtpEmail:
    """The ``email`` channel through an SMTP server."""

    name = NAME

    def __init__(self, config: ChannelSettings) -> None:
        self._config = config

    def message(self, message: OutboundMessage) -> EmailMessage:
        """The e-mail sent for ``message``."""
        to = message.email.strip()
        if not to or "@" not in parseaddr(to)[1]:
            raise MessageRejectedError(
                "the customer has no e-mail address (attributes.email); add one on the customer"
            )
        mail = EmailMessage()
        name, address = parseaddr(self._config.smtp_from)
        mail["From"] = formataddr((name, address))
        mail["To"] = to
        mail["Subject"] = message.subject or message.body.splitlines()[0][:78]
        domain = address.rpartition("@")[2] or "journeys.local"
        mail["Message-ID"] = make_msgid(idstring=message.message_id, domain=domain)
        mail.set_content(message.body)
        return mail

    def deliver(self, message: OutboundMessage) -> Delivery:
        mail = self.message(message)
        try:
            with self._connect() as smtp:
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise ProviderAuthError("SMTP", str(exc.smtp_code), CREDENTIALS) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(min(codes) if codes else 550, "recipient refused") from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            raise _by_code(exc.smtp_code, text) from exc
        except (smtplib.SMTPException, OSError) as exc:  # connection, timeout, TLS
            raise TransientDeliveryError(f"SMTP server unreachable: {exc!r}") from exc
        if refused:
            raise MessageRejectedError(f"SMTP refused {', '.join(refused)}")
        return Delivery(
            status="sent", response=f"SMTP accepted {mail['Message-ID']}", provider_message_id=None
        )

    def check(self) -> str:
        """Connect, log in and say NOOP: nothing is sent."""
        try:
            with self._connect() as smtp:
                smtp.noop()
        except smtplib.SMTPAuthenticationError as exc:
            raise ProviderCheckError(
                f"SMTP refused the login ({exc.smtp_code}); check {', '.join(CREDENTIALS)}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ProviderCheckError(
                f"SMTP server {self._config.smtp_host}:{self._config.smtp_port} "
                f"({env_name('smtp_host')}, {env_name('smtp_port')}, "
                f"{env_name('smtp_security')}): {exc!r}"
            ) from exc
        return f"SMTP: {self._config.smtp_host}:{self._config.smtp_port} accepted the login"

    def _connect(self) -> smtplib.SMTP:
        c = self._config
        smtp: smtplib.SMTP
        if c.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(
                c.smtp_host,
                c.smtp_port,
                timeout=c.smtp_timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.smtp_timeout_seconds)
            if c.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        try:
            if c.smtp_username:
                smtp.login(c.smtp_username, c.smtp_password.get_secret_value())
        except BaseException:
            smtp.close()
            raise
        return smtp


def _by_code(code: int, text: str) -> Exception:
    detail = f"SMTP {code} {text}".strip()
    if code in (421, 450, 451, 452):
        return (
            ThrottledError(detail, retry_after=30.0)
            if code == 421
            else TransientDeliveryError(detail)
        )
    if 400 <= code < 500:
        return TransientDeliveryError(detail)
    return MessageRejectedError(detail)
