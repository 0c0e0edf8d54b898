"""Settings come from PROMO_* once; a bad one is a one-line error naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from promo.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings
from tests.support.tls import Authority


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.is_sqlite
    assert settings.port == 8000
    assert settings.workers == 1


def test_values_are_read_and_converted() -> None:
    settings = load_settings(
        {
            "PROMO_PORT": "9000",
            "PROMO_WORKERS": "4",
            "PROMO_LOG_LEVEL": "DEBUG",
            "PROMO_DATABASE_URL": "postgresql+asyncpg://u:p@db:5432/promo",
            "PROMO_SECRET": "s" * 32,
            "PROMO_PII_KEY": "2:" + "k" * 32,
            "PROMO_PII_RETIRED_KEYS": "1:" + "o" * 32,
            "UNRELATED": "x",
        }
    )
    assert (settings.port, settings.workers, settings.log_level) == (9000, 4, "debug")
    assert settings.is_postgres
    assert settings.keyring.current.key_id == "2"
    assert [key.key_id for key in settings.keyring.retired] == ["1"]


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"PROMO_PORT": "abc"}, "PROMO_PORT"),
        ({"PROMO_PORT": "70000"}, "PROMO_PORT"),
        ({"PROMO_WORKERS": "0"}, "PROMO_WORKERS"),
        ({"PROMO_LOG_LEVEL": "loud"}, "PROMO_LOG_LEVEL"),
        ({"PROMO_SECRET": "short"}, "PROMO_SECRET"),
        ({"PROMO_DATABASE_URL": "mysql://x"}, "PROMO_DATABASE_URL"),
        ({"PROMO_DATABASE_URL": "postgresql+asyncpg://db/promo"}, "PROMO_SECRET"),
        (
            {"PROMO_DATABASE_URL": "postgresql+asyncpg://db/promo", "PROMO_SECRET": "s" * 32},
            "PROMO_PII_KEY",
        ),
        ({"PROMO_PII_KEY": "1:short"}, "PROMO_PII_KEY"),
        ({"PROMO_PII_KEY": "erased:" + "k" * 32}, "PROMO_PII_KEY"),
        ({"PROMO_PII_RETIRED_KEYS": "k" * 40}, "PROMO_PII_RETIRED_KEYS"),
        (
            {"PROMO_PII_KEY": "1:" + "k" * 32, "PROMO_PII_RETIRED_KEYS": "1:" + "o" * 32},
            "PROMO_PII",
        ),
        ({"PROMO_RETAIN_ANSWERS_HOURS": "1"}, "PROMO_RETAIN_ANSWERS_HOURS"),
    ],
)
def test_invalid_or_missing_setting_is_one_line_naming_it(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    message = str(raised.value)
    assert variable in message
    assert "\n" not in message


def test_a_bare_pii_secret_gets_key_id_1() -> None:
    settings = load_settings({"PROMO_PII_KEY": "k" * 40})
    assert settings.keyring.current.key_id == "1"
    assert settings.keyring.current.secret == b"k" * 40


def test_the_webhook_ca_file_must_hold_pem_certificates(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    for path, why in (
        (tmp_path / "missing.pem", "No such file"),
        (not_pem, "no PEM certificate"),
        (tmp_path, "Is a directory"),
    ):
        with pytest.raises(SettingsError) as raised:
            load_settings({"PROMO_WEBHOOK_CA_FILE": str(path)})
        message = str(raised.value)
        assert message.startswith("invalid PROMO_WEBHOOK_CA_FILE: ")
        assert why in message
        assert "\n" not in message


def test_a_webhook_ca_file_is_read(tmp_path: Path) -> None:
    ca = Authority.create(tmp_path, "settings-ca")
    settings = load_settings({"PROMO_WEBHOOK_CA_FILE": str(ca.cert_file)})
    assert settings.webhook_ca_file == str(ca.cert_file)
    assert load_settings({}).webhook_ca_file is None
