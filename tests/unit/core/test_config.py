"""Settings: defaults, validation that names the variable, production refusing default secrets."""

import pytest

from gateway_app.core.config import DEV_JWT_SECRET, ConfigError, load_settings
from gateway_app.core.crypto import generate_key


def test_defaults_are_sqlite_and_memory_cache(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    assert settings.db_provider == "sqlite"
    assert settings.cache_provider == "memory"
    assert settings.control_db_path == tmp_path / "console_main.sqlite"


def test_environment_variables_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "from-env"
    assert settings.log_level == "DEBUG"
    assert settings.cors_origin_list == ["https://a.example", "https://b.example"]


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("DB_PROVIDER", "postgres")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "DB_PROVIDER" in str(info.value)
    assert "postgres" in str(info.value)


def test_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("SMTP_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="SMTP_PORT"):
        load_settings()


def test_redis_cache_needs_redis_url():
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_settings(cache_provider="redis", redis_url="")


def test_invalid_encryption_key_is_refused():
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        load_settings(encryption_key="not-a-fernet-key")


def test_production_refuses_default_jwt_secret():
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        load_settings(env="production", encryption_key=generate_key())


def test_production_refuses_default_encryption_key():
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        load_settings(env="production", jwt_secret="x" * 40)


def test_production_accepts_real_secrets():
    settings = load_settings(env="production", jwt_secret="s" * 40, encryption_key=generate_key())
    assert settings.jwt_secret != DEV_JWT_SECRET


def test_development_accepts_default_secrets():
    assert load_settings(env="development").jwt_secret == DEV_JWT_SECRET
