"""Headless Chromium (Debian's package, never a browser that Playwright downloads) driven by the
Python `playwright` package, against a real daphne on the test database."""

from __future__ import annotations

import os
import shutil

import pytest

from staff import PASSWORD
from ui_helpers import CHROMIUM, CHROMIUM_ARGS, DESKTOP


# Per module, not per session: while Playwright's sync API is open it keeps an asyncio loop marked
# running in this thread, and any later test that runs a loop of its own (asyncio.run, an async
# test) would fail with "cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; Django would take the test's own
    # (synchronous) ORM calls for calls from async code and refuse them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page_as(browser, live_server_url):
    """page_as(user, viewport=DESKTOP): a new browser context logged in as ``user``."""
    contexts = []

    def open_as(user, viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, base_url=live_server_url)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/boxes/")
        return page

    yield open_as
    for context in contexts:
        context.close()

