"""Pure rules of webhooks: the retry schedule, the envelope, the URL and SSRF
rules, the settings that open them, and signatures the library accepts."""

from __future__ import annotations

import ipaddress
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from promo.errors import Invalid
from promo.settings import Settings, SettingsError, load_settings
from promo.webhooks import signing, urls
from promo.webhooks.delivery import RETRY_DELAYS, WINDOW, envelope, next_attempt

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def schedule() -> list[timedelta]:
    """Every attempt's offset from the first, for a receiver that always fails."""
    at, made, offsets = T0, 1, [timedelta(0)]
    while (due := next_attempt(T0, made, at)) is not None:
        at, made = due, made + 1
        offsets.append(at - T0)
    return offsets


def test_retries_back_off_then_every_ten_hours_until_three_days() -> None:
    offsets = schedule()
    assert offsets[:7] == [
        timedelta(0),
        timedelta(seconds=5),
        timedelta(minutes=5, seconds=5),
        timedelta(minutes=35, seconds=5),
        timedelta(hours=2, minutes=35, seconds=5),
        timedelta(hours=7, minutes=35, seconds=5),
        timedelta(hours=17, minutes=35, seconds=5),
    ]
    assert offsets[-1] == WINDOW
    assert len(offsets) == 13
    assert all(b - a <= RETRY_DELAYS[-1] for a, b in itertools.pairwise(offsets))


def test_no_attempt_after_the_window() -> None:
    assert next_attempt(T0, 5, T0 + WINDOW) is None
    assert next_attempt(T0, 5, T0 + WINDOW - timedelta(hours=1)) == T0 + WINDOW


def test_the_envelope_carries_the_payload_as_stored() -> None:
    payload = '{"id":"red_1","amount":1999}'
    body = envelope("evt_1", "redemption.created", T0, payload)
    assert json.loads(body) == {
        "id": "evt_1",
        "type": "redemption.created",
        "timestamp": "2026-07-01T12:00:00Z",
        "data": {"id": "red_1", "amount": 1999},
    }
    assert body.endswith(',"data":' + payload + "}")


def test_signatures_of_every_secret_verify_with_the_library() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    assert old.startswith("whsec_")
    assert old != new
    now = datetime.now(UTC)
    headers = signing.headers("evt_1", '{"a":1}', [new, old], at=now)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    for secret in (old, new):
        assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}


def policy(schemes: str = "https", allowed: str = "public") -> urls.Policy:
    return urls.Policy.of(Settings(webhook_schemes=schemes, webhook_allowed_hosts=allowed))


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/promo",
        "https://HOOKS.example.com:8443/a?b=c",
        "https://93.184.216.34/hook",
        "https://[2606:4700::1111]/hook",
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert urls.check_url(url, policy()).lower() == url.lower()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",  # http not allowed by default
        "https://127.0.0.1/",
        "https://10.0.0.8/",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://169.254.169.254/",
        "https://[::1]/",
        "https://[fd00::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://0.0.0.0/",
        "https://localhost/",
        "https://api.localhost/",
    ],
)
def test_internal_or_disallowed_urls_are_refused(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        urls.check_url(url, policy())
    assert [e.field for e in refused.value.errors] == ["url"]


def test_the_operator_may_allow_internal_hosts_and_networks() -> None:
    opened = policy("http,https", "public, 127.0.0.1, 10.0.0.0/8, hooks.internal")
    assert urls.check_url("https://hooks.example.com/x", opened)
    assert urls.check_url("http://127.0.0.1:9000/x", opened)
    assert urls.check_url("https://10.2.3.4/x", opened)
    assert urls.check_url("https://hooks.internal/x", opened)
    with pytest.raises(Invalid):
        urls.check_url("https://192.168.0.1/x", opened)
    assert opened.allows_address(ipaddress.ip_address("10.9.9.9"))
    assert not opened.allows_address(ipaddress.ip_address("172.16.0.1"))


def test_a_list_without_public_allows_only_what_it_lists() -> None:
    only = policy("http", "127.0.0.1, partner.example.com")
    assert urls.check_url("http://127.0.0.1:8080/x", only)
    assert urls.check_url("http://partner.example.com/x", only)
    for url in ("http://93.184.216.34/x", "http://hooks.example.com/x", "http://127.0.0.2/"):
        with pytest.raises(Invalid):
            urls.check_url(url, only)


async def test_a_name_is_judged_by_the_addresses_it_resolves_to() -> None:
    with pytest.raises(urls.Refused, match="internal address"):
        await urls.resolve("https://localhost:9/x", policy())
    with pytest.raises(urls.Refused, match="not an allowed host"):
        await urls.resolve("http://localhost:9/x", policy("http", "127.0.0.0/8,::1/128"))
    opened = policy("http", "public,127.0.0.0/8,::1/128")
    target = await urls.resolve("http://localhost:9/x", opened)
    assert target.host == "localhost"
    assert urls.host_header(target) == "localhost:9"
    assert target.url in ("http://127.0.0.1:9/x", "http://[::1]:9/x")


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"PROMO_WEBHOOK_SCHEMES": "ftp"}, "PROMO_WEBHOOK_SCHEMES"),
        ({"PROMO_WEBHOOK_SCHEMES": ""}, "PROMO_WEBHOOK_SCHEMES"),
        ({"PROMO_WEBHOOK_ALLOWED_HOSTS": "bad host!"}, "PROMO_WEBHOOK_ALLOWED_HOSTS"),
        ({"PROMO_WEBHOOK_ALLOWED_HOSTS": " , "}, "PROMO_WEBHOOK_ALLOWED_HOSTS"),
        ({"PROMO_WEBHOOK_TIMEOUT_SECONDS": "0"}, "PROMO_WEBHOOK_TIMEOUT_SECONDS"),
    ],
)
def test_bad_webhook_settings_stop_with_their_name(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(environ)


def test_webhook_settings_are_read() -> None:
    settings = load_settings(
        {"PROMO_WEBHOOK_SCHEMES": "http,https", "PROMO_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    )
    assert policy(settings.webhook_schemes, settings.webhook_allowed_hosts).schemes == {
        "http",
        "https",
    }
