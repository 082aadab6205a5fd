"""Secret values are redacted by value in errors, records, health entries and every log line."""
from __future__ import annotations

import logging

from config import Config
from devserver import redaction
from devserver.backends.base import Health, scrub
from devserver.errors import BackendError

KEY = "sk-test-secret-value-42"


def setup_module() -> None:
    redaction.register(Config().with_overrides({"OPENAI_API_KEY": KEY, "OPENAI_COMPAT_API_KEY": "short"})
                     .secret_values())
    redaction.install_log_scrubber()


def test_errors_records_and_health_lose_the_key_wherever_it_hides():
    err = BackendError(f"401: bad header 'Bearer {KEY}'", backend="openai_images",
                       details={"echo": [f"Authorization: Bearer {KEY}"], KEY: 1})
    envelope = str(err.to_dict())
    assert KEY not in envelope and KEY not in str(err) and "[redacted]" in err.message
    err.details["later"] = KEY  # details added after the error was made are redacted in the envelope too
    assert KEY not in str(err.to_dict())
    assert KEY not in str(scrub({"body": {"messages": [f"key {KEY}"]}}))
    assert KEY not in str(Health("error", f"refused {KEY}", instances=[{"detail": KEY}]).to_dict())


def test_short_values_are_not_treated_as_secrets():
    assert redaction.redact_text("a short sentence") == "a short sentence"


def test_every_log_line_and_traceback_is_redacted(caplog):
    log = logging.getLogger("devserver.test")
    with caplog.at_level(logging.INFO):
        log.warning("provider said: %s", f"Bearer {KEY}")
        try:
            raise RuntimeError(f"echo {KEY}")
        except RuntimeError:
            log.exception("call failed")
    assert "provider said: Bearer [redacted]" in caplog.text
    assert "RuntimeError: echo [redacted]" in caplog.text and KEY not in caplog.text
