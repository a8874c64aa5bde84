"""Settings: where the database is, and one clear line for a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from quoin.config import DEVELOPMENT_SECRET_KEY, Environment, Settings, SettingsError
from tests.support.helpers import PRODUCTION

OWN_KEYS = {"ENCRYPTION_KEYS": PRODUCTION["ENCRYPTION_KEYS"]}


def test_with_nothing_configured_the_database_is_the_embedded_sqlite_file(tmp_path: Path) -> None:
    settings = Settings.from_env({"SQLITE_PATH": str(tmp_path / "app.db")}, env_file=None)

    assert settings.db.is_sqlite
    assert settings.db.url.render_as_string() == f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    assert settings.app.env is Environment.DEVELOPMENT


def test_postgres_variables_build_an_asyncpg_url() -> None:
    settings = Settings.from_env(
        {"POSTGRES_HOST": "db.internal", "POSTGRES_PORT": "6543", "POSTGRES_USER": "app",
         "POSTGRES_PASSWORD": "p@ss:word", "POSTGRES_DB": "quoin"},
        env_file=None,
    )  # fmt: skip

    url = settings.db.url
    assert not settings.db.is_sqlite
    assert (url.drivername, url.host, url.port, url.username, url.password, url.database) == (
        "postgresql+asyncpg", "db.internal", 6543, "app", "p@ss:word", "quoin"
    )  # fmt: skip


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+asyncpg"])
def test_database_url_wins_and_gets_the_async_driver(scheme: str) -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": f"{scheme}://u:p@h:5433/d", "POSTGRES_HOST": "ignored"}, env_file=None
    )

    assert settings.db.url.render_as_string(hide_password=False) == "postgresql+asyncpg://u:p@h:5433/d"


def test_pool_settings_have_production_defaults() -> None:
    db = Settings.from_env({}, env_file=None).db

    assert (db.db_pool_size, db.db_max_overflow, db.db_pool_pre_ping) == (20, 0, False)
    assert db.db_pool_timeout > 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POSTGRES_PORT", "abc"),
        ("POSTGRES_PORT", "70000"),
        ("DB_POOL_SIZE", "0"),
        ("DB_POOL_TIMEOUT", "-1"),
        ("ENV", "prod"),
        ("DEBUG", "maybe"),
        ("LOG_LEVEL", "loud"),
        ("ARGON2_MEMORY_COST", "1"),
        ("METRICS_PORT", "0"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"^invalid setting {name}: "):
        Settings.from_env({name: value}, env_file=None)


def test_metrics_are_never_served_on_the_api_port() -> None:
    with pytest.raises(SettingsError, match=r"^invalid setting METRICS_PORT: it must differ from PORT"):
        Settings.from_env({"PORT": "8080", "METRICS_PORT": "8080"}, env_file=None)


def test_with_metrics_disabled_their_port_is_not_checked() -> None:
    settings = Settings.from_env({"PORT": "8080", "METRICS_PORT": "8080", "METRICS_ENABLED": "false"}, env_file=None)

    assert not settings.server.metrics_enabled


@pytest.mark.parametrize("env", ["production", "staging"])
@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "SECRET_KEY is the development default"),
        (DEVELOPMENT_SECRET_KEY, "SECRET_KEY is the development default"),
        ("too-short-secret", "SECRET_KEY is shorter than 32 bytes"),
    ],
)
def test_outside_development_a_weak_secret_refuses_to_start(env: str, secret: str | None, reason: str) -> None:
    environ = {"ENV": env, **({"SECRET_KEY": secret} if secret else {})}

    with pytest.raises(SettingsError, match=rf"^refusing to start in {env}: {reason}"):
        Settings.from_env(environ, env_file=None)


def test_outside_development_a_strong_secret_starts() -> None:
    settings = Settings.from_env(
        {"ENV": "production", "SECRET_KEY": "k" * 32, "POSTGRES_HOST": "db", **OWN_KEYS}, env_file=None
    )

    assert settings.security.secret_key == "k" * 32


@pytest.mark.parametrize("env", ["production", "staging"])
def test_outside_development_a_missing_postgres_configuration_refuses_to_start(env: str) -> None:
    with pytest.raises(SettingsError, match=rf"^refusing to start in {env}: no PostgreSQL configured"):
        Settings.from_env({"ENV": env, "SECRET_KEY": "k" * 32, **OWN_KEYS}, env_file=None)


def test_debug_is_refused_outside_development() -> None:
    with pytest.raises(SettingsError, match=r"^refusing to start in production: DEBUG=true"):
        Settings.from_env(
            {"ENV": "production", "SECRET_KEY": "k" * 32, "POSTGRES_HOST": "db", "DEBUG": "true", **OWN_KEYS},
            env_file=None,
        )


def test_wildcard_cors_with_credentials_is_refused_everywhere() -> None:
    with pytest.raises(
        SettingsError, match=r"CORS_ALLOW_CREDENTIALS=true cannot be combined with CORS_ALLOW_ORIGINS=\*"
    ):
        Settings.from_env(
            {"CORS_ALLOW_ORIGINS": "https://a.example, *", "CORS_ALLOW_CREDENTIALS": "true"}, env_file=None
        )


def test_development_runs_with_the_default_secret() -> None:
    assert Settings.from_env({}, env_file=None).security.secret_key == DEVELOPMENT_SECRET_KEY


def test_dot_env_is_read_and_the_environment_overrides_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_HOST=from-file\nDB_POOL_SIZE=7\nLOG_LEVEL=debug\n")

    settings = Settings.from_env({"DB_POOL_SIZE": "9"}, env_file=str(env_file))

    assert settings.db.postgres_host == "from-file"
    assert settings.db.db_pool_size == 9
    assert settings.app.log_level == "debug"


def test_empty_values_count_as_unset() -> None:
    settings = Settings.from_env({"POSTGRES_HOST": "", "DATABASE_URL": "", "DB_POOL_SIZE": ""}, env_file=None)

    assert settings.db.is_sqlite
    assert settings.db.db_pool_size == 20


@pytest.mark.process
def test_the_cli_refuses_production_with_the_default_secret_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"ENV": "production"}

    result = subprocess.run(
        [sys.executable, "-m", "quoin", "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "refusing to start in production: SECRET_KEY" in result.stderr


@pytest.mark.process
def test_the_cli_stops_on_a_bad_setting_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "POSTGRES_PORT": "abc"}

    result = subprocess.run(
        [sys.executable, "-m", "quoin", "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["quoin: invalid setting POSTGRES_PORT: Expected `int`, got `str`"]
    assert "Traceback" not in result.stdout + result.stderr


def test_secrets_can_come_from_files_with_their_trailing_newline_dropped(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("s" * 48 + "\n")
    password = tmp_path / "postgres_password"
    password.write_text("p@ss word")
    environ = {**OWN_KEYS, "ENV": "production", "SECRET_KEY_FILE": str(secret), "POSTGRES_HOST": "db"}
    settings = Settings.from_env({**environ, "POSTGRES_PASSWORD_FILE": str(password)}, env_file=None)

    assert settings.security.secret_key == "s" * 48
    assert settings.db.url.password == "p@ss word"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"SECRET_KEY": "x" * 48, "SECRET_KEY_FILE": "/dev/null"},
            "invalid setting SECRET_KEY_FILE: SECRET_KEY is set",
        ),
        (
            {"SECRET_KEY_FILE": "/nonexistent/secret"},
            "invalid setting SECRET_KEY_FILE: cannot read /nonexistent/secret",
        ),
    ],
)
def test_a_secret_file_that_conflicts_or_cannot_be_read_is_one_clear_error(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=f"^{message}"):
        Settings.from_env(environ, env_file=None)


@pytest.mark.parametrize(
    ("sampler", "follows_parent", "ratio"),
    [
        (None, True, 0.25),
        ("parentbased_always_on", True, 1.0),
        ("parentbased_always_off", True, 0.0),
        ("traceidratio", False, 0.25),
        ("always_on", False, 1.0),
        ("always_off", False, 0.0),
    ],
)
def test_the_standard_opentelemetry_sampler_variables_are_honoured(
    sampler: str | None, follows_parent: bool, ratio: float
) -> None:
    environ = {"OTEL_TRACES_SAMPLER_ARG": "0.25", **({"OTEL_TRACES_SAMPLER": sampler} if sampler else {})}
    telemetry = Settings.from_env(environ, env_file=None).telemetry

    assert (telemetry.follows_parent, telemetry.new_trace_ratio) == (follows_parent, ratio)


def test_otlp_over_grpc_without_its_exporter_is_refused_in_one_line() -> None:
    environ = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}
    with pytest.raises(SettingsError, match="needs the package opentelemetry-exporter-otlp-proto-grpc"):
        Settings.from_env(environ, env_file=None)


def test_an_unknown_sampler_or_protocol_is_an_error_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^invalid setting OTEL_TRACES_SAMPLER"):
        Settings.from_env({"OTEL_TRACES_SAMPLER": "sometimes"}, env_file=None)
    with pytest.raises(SettingsError, match=r"^invalid setting OTEL_EXPORTER_OTLP_PROTOCOL"):
        Settings.from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, env_file=None)
