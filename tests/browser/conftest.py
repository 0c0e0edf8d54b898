"""The console in a real browser: Debian's Chromium driven by Playwright,
against a real `promo serve --demo` (two workers) and `promo worker` on the
suite's PostgreSQL.

Chromium is the system's (``/usr/bin/chromium``, or PROMO_TEST_CHROMIUM);
Playwright downloads nothing. Without it the tests are skipped, and fail in
CI. Each journey saves a screenshot of every page it visits into
PROMO_SCREENSHOTS (default: a temporary directory, named in the report);
``PROMO_SCREENSHOTS=docs/console pytest tests/browser`` regenerates the
README's.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from promo.db import migrate
from tests.conftest import IN_CI, TEST_SECRET, make_settings
from tests.support.postgres import PostgresServer
from tests.support.server import ServerProcess, start_server, start_worker

ACCOUNT_LINE = re.compile(r"^  (\w+)\s+(\S+@example\.com)\s+(\S+)$", re.M)
KEY_LINE = re.compile(r"^  (\w+)\s+(pk_\S+)$", re.M)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium() -> str:
    path = os.environ.get("PROMO_TEST_CHROMIUM") or shutil.which("chromium") or ""
    if not path or not Path(path).exists():
        message = "Chromium is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{message}: required in CI")
        pytest.skip(message)
    return path


@dataclass
class Console:
    """A running promo with its demo sign-ins and keys."""

    url: str
    accounts: dict[str, tuple[str, str]]
    keys: dict[str, str]
    server: ServerProcess


@pytest.fixture(scope="module")
def console(postgres: PostgresServer) -> Iterator[Console]:
    name = f"promo_console_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(name)
    migrate.upgrade(make_settings(url))
    server = start_server(url, workers=2, secret=TEST_SECRET, args=("--demo",))
    worker = start_worker(url, secret=TEST_SECRET, log=server.log.with_name("worker.log"))
    try:
        printed = server.log.read_text()
        accounts = {role: (email, pw) for role, email, pw in ACCOUNT_LINE.findall(printed)}
        keys = dict(KEY_LINE.findall(printed))
        assert set(accounts) == {"admin", "marketer", "accountant", "affiliate"}, printed
        yield Console(url=server.url, accounts=accounts, keys=keys, server=server)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        server.stop()
        postgres.drop_database(name)
        # Its log holds the demo's printed sign-ins and sample cart (a sample e-mail).
        shutil.rmtree(server.log.parent, ignore_errors=True)


@pytest.fixture(scope="module")
async def chrome() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    where = Path(os.environ.get("PROMO_SCREENSHOTS") or tempfile.mkdtemp(prefix="promo-shots-"))
    where.mkdir(parents=True, exist_ok=True)
    return where


@dataclass
class Person:
    """One person at the console in their own browser context (cookies)."""

    page: Page
    base: str
    shots: Path
    role: str
    taken: list[Path] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def heard(self, message: ConsoleMessage) -> None:
        """Script errors and refusals (CSP, MIME types) count; a 4xx page does not."""
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.script_errors.append(message.text)

    async def open(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def shoot(self, name: str) -> None:
        """A screenshot of the page as it is, at desktop width and on a phone."""
        for label, size in (("", DESKTOP), ("-phone", PHONE)):
            await self.page.set_viewport_size(size)
            target = self.shots / f"{self.role}-{name}{label}.png"
            await self.page.screenshot(path=str(target), full_page=True)
            self.taken.append(target)
        await self.page.set_viewport_size(DESKTOP)

    async def sign_in(self, email: str, password: str) -> None:
        await self.open("/console/login")
        await self.page.get_by_label("E-mail").fill(email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()


@pytest.fixture
async def person(chrome: Browser, console: Console, screenshots: Path) -> AsyncIterator[Any]:
    contexts = []

    async def make(role: str, *, locale: str = "en-GB") -> Person:
        context = await chrome.new_context(viewport=DESKTOP, locale=locale)
        contexts.append(context)
        page = await context.new_page()
        someone = Person(page=page, base=console.url, shots=screenshots, role=role)
        page.on("pageerror", lambda error: someone.script_errors.append(str(error)))
        page.on("console", someone.heard)
        return someone

    yield make
    for context in contexts:
        await context.close()
