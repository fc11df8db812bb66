"""In the browser: a throttled sign-in shows how long to wait in the form (the 429 is swapped
like a 422, not a bare 'Too Many Requests' toast), and the right password stays refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from settings import Settings
from tests.ui.conftest import LiveServer


@pytest.fixture
def canvas_settings(canvas_settings: Settings) -> Settings:
    """Two failures lock an account."""
    return canvas_settings.model_copy(update={"login_account_limit": 2})


def test_the_lock_message_shows_in_the_form(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/login")
        alert = page.locator("#login-form .error")
        for password in ("guess-1", "guess-2"):
            page.locator("#username").fill("hq")
            page.locator("#password").fill(password)
            page.locator("#login-form button[type=submit]").click()
            expect(alert).to_have_text("用户名或密码错误。")
            alert.evaluate("el => el.remove()")  # the next answer must bring its own
        page.locator("#username").fill("hq")
        page.locator("#password").fill("test-pass")  # the right one (see harness.hq_login)
        page.locator("#login-form button[type=submit]").click()
        expect(alert).to_have_text("登录失败次数过多，请在 15 分钟后再试。")
        assert page.url.endswith("/login")
        assert errors == []
    finally:
        context.close()
