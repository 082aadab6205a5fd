"""Settings come from the environment and .env, typed; secrets never show in public views."""
from __future__ import annotations

import pytest

from config import LOCAL_MODEL, MODEL_ROLES, Config


def test_defaults_point_every_model_role_at_the_embedded_model():
    cfg = Config.from_env({}, dotenv=None)
    assert {cfg.model_for(role) for role in MODEL_ROLES} == {LOCAL_MODEL}
    assert cfg.PORT == 17801 and cfg.HOST == "127.0.0.1" and cfg.DEFAULT_SAFETY_LEVEL == "youth"


def test_environment_wins_over_dotenv_and_values_are_typed(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9000  # comment\nOLLAMA_URL=   # none\nSTAGE3_MODEL=ollama/llama3\n"
                        "LLM_FALLBACKS=ollama/a, local/smollm2-135m\nCOMFYUI_FREE_AFTER_JOB=yes\n")
    cfg = Config.from_env({"PORT": "9100"}, dotenv=env_file)
    assert cfg.PORT == 9100
    assert cfg.OLLAMA_URL == ""
    assert cfg.model_for("STAGE3_MODEL") == "ollama/llama3"
    assert cfg.LLM_FALLBACKS == ("ollama/a", "local/smollm2-135m")
    assert cfg.COMFYUI_FREE_AFTER_JOB is True


def test_bad_number_names_the_variable():
    with pytest.raises(ValueError, match="PORT"):
        Config.from_env({"PORT": "eighty"}, dotenv=None)


def test_unknown_role_and_unknown_override_are_errors():
    cfg = Config.from_env({}, dotenv=None)
    with pytest.raises(KeyError):
        cfg.model_for("STAGE9_MODEL")
    with pytest.raises(KeyError):
        cfg.with_overrides({"NO_SUCH_SETTING": 1})


def test_public_view_hides_secrets():
    cfg = Config.from_env({"OPENROUTER_API_KEY": "sk-or-secret"}, dotenv=None)
    assert cfg.public()["OPENROUTER_API_KEY"] is True
    assert "sk-or-secret" not in repr(cfg.public())


def test_access_settings_are_typed_and_the_secret_key_is_hidden(tmp_path):
    cfg = Config.from_env({"SECRET_KEY": "s3cr3t-value", "ALLOWED_HOSTS": "kunst.example, art.example",
                           "PROXY_HOPS": "1", "DATA_DIR": str(tmp_path / "data")}, dotenv=None)
    assert cfg.ALLOWED_HOSTS == ("kunst.example", "art.example") and cfg.PROXY_HOPS == 1
    assert cfg.data_dir() == tmp_path / "data"
    assert cfg.public()["SECRET_KEY"] is True and "s3cr3t-value" not in repr(cfg.public())
    default = Config.from_env({"DATA_DIR": "", "EXPORTS_DIR": str(tmp_path / "exports")}, dotenv=None)
    assert default.DATA_DIR is None and default.data_dir() == tmp_path / "exports" / "data"
