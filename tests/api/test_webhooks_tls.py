"""Webhooks to HTTPS receivers, for real: a receiver on 127.0.0.1 speaks TLS
with a certificate signed by a CA made for the test (tests.support.tls).

A certificate that chains to the CA the operator configured
(``PROMO_WEBHOOK_CA_FILE``) is delivered, signed; one that does not (no CA
configured, or a certificate for another name) is a failed attempt, logged
with the reason and retried like any failure, and nothing reaches the
receiver: there is no way to deliver without verifying.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncConnection

from promo import job_kinds
from promo.jobs.inprocess import AppJobs
from promo.settings import Settings
from promo.webhooks import delivery, urls
from tests.conftest import make_settings
from tests.support.api import create_campaign, create_code, sell
from tests.support.clock import FrozenClock
from tests.support.receiver import Receiver, running_receiver
from tests.support.tls import Authority

Client = httpx.AsyncClient


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    """The CA of the receiver's certificates (the operator's private CA)."""
    return Authority.create(tmp_path, "promo-test-ca")


@pytest.fixture
def https_receiver(authority: Authority, tmp_path: Path) -> Iterator[Receiver]:
    """A receiver on https://127.0.0.1:PORT whose certificate ``authority`` signed."""
    with running_receiver(tls=authority.server_context(tmp_path, "127.0.0.1")) as receiver:
        assert receiver.url.startswith("https://127.0.0.1:")
        yield receiver


def use_workers_of(
    app: Litestar, settings: Settings, connection: AsyncConnection, clock: FrozenClock
) -> None:
    """The app's jobs run by a worker built from ``settings`` (how `promo worker`
    starts with another environment); the API keeps the suite's settings."""
    app.state.jobs = AppJobs(job_kinds.worker(settings, connection, clock), in_process=False)


async def run_jobs(app: Litestar, clock: FrozenClock, seconds: float = 1) -> None:
    clock.advance(seconds=seconds)
    worker = app.state.jobs.worker
    await worker.queue_recurring()
    await worker.run_due()


async def subscribe_and_sell(
    client: Client, marketer: dict[str, str], checkout: dict[str, str], url: str, code: str
) -> dict[str, Any]:
    made = await client.post(
        "/v1/webhooks", json={"url": url, "events": ["redemption.created"]}, headers=marketer
    )
    assert made.status_code == 201, made.text
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], code)
    await sell(client, checkout, code, 5000)
    hook: dict[str, Any] = made.json()
    return hook


async def logged(client: Client, marketer: dict[str, str], webhook_id: str) -> list[Any]:
    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=marketer)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_a_receiver_whose_certificate_chains_to_the_configured_ca_gets_the_event_signed(
    app: Litestar,
    client: Client,
    connection: AsyncConnection,
    settings: Settings,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    authority: Authority,
    https_receiver: Receiver,
) -> None:
    trusting = msgspec.structs.replace(settings, webhook_ca_file=str(authority.cert_file))
    use_workers_of(app, trusting, connection, clock)
    hook = await subscribe_and_sell(client, marketer, checkout, https_receiver.url, "TLS20")
    await run_jobs(app, clock)
    [received] = https_receiver.received
    event = received.verified(hook["secret"])
    assert event["type"] == "redemption.created"
    assert received.headers["host"] == https_receiver.url.split("/")[2]
    [attempt] = await logged(client, marketer, hook["id"])
    assert (attempt["status_code"], attempt["outcome"], attempt["error"]) == (
        200,
        "delivered",
        None,
    )


async def test_an_untrusted_certificate_is_a_failed_attempt_retried_and_never_delivered(
    app: Litestar,
    client: Client,
    connection: AsyncConnection,
    settings: Settings,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    authority: Authority,
    https_receiver: Receiver,
) -> None:
    assert settings.webhook_ca_file is None  # the suite's workers trust the default CAs only
    hook = await subscribe_and_sell(client, marketer, checkout, https_receiver.url, "UNTRUST20")
    await run_jobs(app, clock)
    await run_jobs(app, clock, seconds=5)  # the retry, 5 s later: refused again
    attempts = await logged(client, marketer, hook["id"])
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in attempts] == [
        (1, "retrying", None),
        (2, "retrying", None),
    ]
    for attempt in attempts:
        assert attempt["error"].startswith("TLS: certificate verify failed: ")
        assert "unable to get local issuer certificate" in attempt["error"]
    assert attempts[-1]["delivery_status"] == "pending"
    assert attempts[-1]["next_attempt_at"] is not None
    assert https_receiver.received == [], "no byte of the event over an unverified connection"
    shown = (await client.get(f"/v1/webhooks/{hook['id']}", headers=marketer)).json()
    assert (shown["status"], shown["failing_since"] is not None) == ("active", True)
    # The operator adds the CA and restarts the workers: the next retry delivers.
    trusting = msgspec.structs.replace(settings, webhook_ca_file=str(authority.cert_file))
    use_workers_of(app, trusting, connection, clock)
    await run_jobs(app, clock, seconds=5 * 60)
    [received] = https_receiver.received
    received.verified(hook["secret"])
    last = (await logged(client, marketer, hook["id"]))[-1]
    assert (last["attempt"], last["outcome"], last["status_code"]) == (3, "delivered", 200)


async def test_a_certificate_of_the_configured_ca_for_another_name_is_refused(
    app: Litestar,
    client: Client,
    connection: AsyncConnection,
    settings: Settings,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    authority: Authority,
    tmp_path: Path,
) -> None:
    trusting = msgspec.structs.replace(settings, webhook_ca_file=str(authority.cert_file))
    use_workers_of(app, trusting, connection, clock)
    elsewhere = authority.server_context(tmp_path, "hooks.example.com")
    with running_receiver(tls=elsewhere) as receiver:
        hook = await subscribe_and_sell(client, marketer, checkout, receiver.url, "NAME20")
        await run_jobs(app, clock)
        [attempt] = await logged(client, marketer, hook["id"])
        assert attempt["outcome"] == "retrying"
        assert attempt["error"].startswith("TLS: certificate verify failed: ")
        assert "mismatch" in attempt["error"]
        assert "127.0.0.1" in attempt["error"]
        assert receiver.received == []


async def test_a_host_name_is_verified_as_named_while_the_request_goes_to_its_judged_address(
    authority: Authority, tmp_path: Path
) -> None:
    """The SSRF guard sends the request to the address it judged; TLS still
    checks the certificate against the name the URL gave (SNI), not that address."""
    settings = make_settings(
        "sqlite+aiosqlite://",
        webhook_schemes="https",
        webhook_allowed_hosts="localhost",
        webhook_ca_file=str(authority.cert_file),
    )
    policy = urls.Policy.of(settings)
    post = delivery.poster(5.0, delivery.trust(settings.webhook_ca_file))
    for names, delivered in ((("localhost",), True), (("127.0.0.1",), False)):
        with running_receiver(tls=authority.server_context(tmp_path, *names)) as receiver:
            port = receiver.url.split(":")[2].split("/")[0]
            url = urls.check_url(f"https://localhost:{port}/hooks", policy)
            target = await urls.resolve(url, policy)
            assert target.url.startswith("https://127.0.0.1:")
            sent = await delivery.send(url, "{}", {"webhook-id": "msg_1"}, policy, post)
            assert sent.delivered is delivered, sent.error
            assert len(receiver.received) == int(delivered)
            if delivered:
                assert receiver.received[0].headers["host"] == f"localhost:{port}"
            else:
                assert sent.error is not None
                assert "not valid for 'localhost'" in sent.error


def test_the_trust_verifies_certificates_and_names_whatever_is_configured(
    authority: Authority,
) -> None:
    for ca_file in (None, str(authority.cert_file)):
        context = delivery.trust(ca_file)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
    added = delivery.trust(str(authority.cert_file)).get_ca_certs()
    default = delivery.trust(None).get_ca_certs()
    assert len(added) == len(default) + 1, "added to the default trust, not in its place"
