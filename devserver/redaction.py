"""Secrets scrubbed by value, wherever text leaves the server (named so as not to shadow the stdlib `secrets`).

Redacting by key name (`api_key: ***`) misses a provider that echoes our `Authorization` header in
its error message: the key then travels inside an ordinary string into the error a student sees,
the run record, the event log, exports, `/api/health` and the log. So every configured secret value
(the settings `config.Config.secret_values()` names: API keys) is registered here once, and every
boundary replaces each occurrence by `[redacted]`:

* errors — `AppError` redacts its message and details when it is made (so the envelope, the run's
  output error, `metadata.json` and `events.jsonl` never see the key);
* records and parameters — `backends.base.scrub` (used by results and the recorder);
* `/api/health` — `Health.to_dict`;
* logs — a log-record factory redacts every record's message, arguments and traceback text.

Values shorter than `MIN_LENGTH` are not registered: redacting a two-letter "key" would mangle
every text. The registry is process-wide on purpose: a value that was a secret for one app stays
one for every later app in the same process (tests build many).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Iterable, Mapping

REDACTED = "[redacted]"
MIN_LENGTH = 8

_lock = threading.Lock()
_values: tuple[str, ...] = ()  # longest first, so a key containing another is replaced whole
_factory_installed = False


def register(values: Iterable[str | None]) -> None:
    """Remember secret values to redact from now on (short or empty ones are ignored)."""
    global _values
    with _lock:
        known = set(_values) | {v for v in values if v and len(v) >= MIN_LENGTH}
        _values = tuple(sorted(known, key=len, reverse=True))


def redact_text(text: str) -> str:
    """Return `text` with every registered secret value replaced by `[redacted]`."""
    for value in _values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with secret values redacted in every string (keys too)."""
    if not _values:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {redact(k) if isinstance(k, str) else k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def _redact_record(record: logging.LogRecord) -> None:
    if not _values:
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging's own error report
        return
    record.msg, record.args = redact_text(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = redact_text(record.exc_text)


def install_log_scrubber() -> None:
    """Make every log record redact secret values (once per process, whatever handlers exist)."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _redact_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True
