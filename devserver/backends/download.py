"""Turn what a provider hands back (a data: URL or an http(s) URL) into a validated MediaFile.

The bytes decide the type: a file is accepted only when its magic bytes are a known media format,
whatever the Content-Type or the data URL's declared type says. Downloads are streamed and aborted
as soon as they pass the size limit; transient failures (connection errors, timeouts, 429, 5xx) are
retried with a short backoff that honours Retry-After.

A paid generation is never run again because its download failed: `fetch_generated` reports
progress as soon as the provider has answered (the router retries nothing after progress) and marks
a download failure `generated` and not retryable (so it neither re-runs the generation nor counts
toward the provider's cooldown). Only the download itself is retried, here.
"""
from __future__ import annotations

import base64
import binascii
import time
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping, Sequence

import httpx

from devserver.backends.base import MediaFile, Progress, ProgressCallback
from devserver.errors import BackendBadResponse, BackendError, BackendRateLimited, BackendTimeout, BackendUnavailable

EXTENSIONS = {
    "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif",
    "audio/mpeg": "mp3", "audio/wav": "wav", "audio/flac": "flac", "audio/ogg": "ogg",
    "audio/mp4": "m4a", "video/mp4": "mp4", "video/webm": "webm",
}
AUDIO_MP4_BRANDS = (b"M4A ", b"M4B ")
MAX_RETRY_WAIT = 10.0  # never sleep longer than this on a provider's Retry-After


def _is_mp3_frame(data: bytes) -> bool:
    # MPEG audio frame header: 11 sync bits, a real layer (not 00) and a valid bitrate index
    return (len(data) >= 3 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06 != 0
            and data[2] & 0xF0 != 0xF0)


SIGNATURES: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda d: d.startswith(b"\x89PNG\r\n\x1a\n"), "image/png"),
    (lambda d: d.startswith(b"\xff\xd8\xff"), "image/jpeg"),
    (lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP", "image/webp"),
    (lambda d: d[:6] in (b"GIF87a", b"GIF89a"), "image/gif"),
    (lambda d: d[:4] == b"RIFF" and d[8:12] == b"WAVE", "audio/wav"),
    (lambda d: d.startswith(b"fLaC"), "audio/flac"),
    (lambda d: d.startswith(b"OggS"), "audio/ogg"),
    (lambda d: d.startswith(b"ID3") or _is_mp3_frame(d), "audio/mpeg"),
    (lambda d: d[4:8] == b"ftyp" and d[8:12] in AUDIO_MP4_BRANDS, "audio/mp4"),
    (lambda d: d[4:8] == b"ftyp", "video/mp4"),
    (lambda d: d.startswith(b"\x1a\x45\xdf\xa3"), "video/webm"),
)


def sniff_mime(data: bytes) -> str | None:
    """Return the media type the magic bytes announce, or None for anything else."""
    for matches, mime in SIGNATURES:
        if matches(data[:16]):
            return mime
    return None


def media_file(data: bytes, stem: str, backend: str = "") -> MediaFile:
    """Wrap bytes as a MediaFile named `stem.<ext>`, refusing bytes that are no known media."""
    mime = sniff_mime(data)
    if mime is None:
        raise BackendBadResponse(f"the provider sent {len(data)} bytes that are not a known media format",
                                 backend=backend, code="not_media", details={"head": data[:16].hex()})
    return MediaFile(data, mime, f"{stem}.{EXTENSIONS[mime]}")


def decode_data_url(url: str, max_bytes: int, backend: str = "") -> bytes:
    """Return the bytes of a base64 `data:` URL."""
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise BackendBadResponse("the provider sent a data URL that is not base64", backend=backend,
                                 code="bad_media_url")
    if len(payload) * 3 // 4 > max_bytes:
        raise BackendBadResponse(f"the media is larger than {max_bytes} bytes", backend=backend,
                                 code="media_too_large")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BackendBadResponse("the provider sent a data URL with broken base64", backend=backend,
                                 code="bad_media_url") from None


def fetch_media(url: str, max_bytes: int, client: httpx.Client, retries: int = 2, stem: str = "output",
                backend: str = "", backoff: float = 0.5, deadline: float | None = None) -> MediaFile:
    """Decode or download one media file, retrying transient failures, and validate its bytes.

    With a `deadline` (time.monotonic()), each try waits at most until then and no retry starts after it.
    """
    if url.startswith("data:"):
        return media_file(decode_data_url(url, max_bytes, backend), stem, backend)
    if not url.startswith(("http://", "https://")):
        raise BackendBadResponse(f"the provider sent an unsupported media URL scheme: {url[:16]!r}",
                                 backend=backend, code="bad_media_url")
    for attempt in range(retries + 1):
        try:
            return media_file(_download(url, max_bytes, client, backend, deadline), stem, backend)
        except BackendError as err:
            wait = getattr(err, "retry_after", None)
            wait = min(MAX_RETRY_WAIT, wait if wait is not None else backoff * 2 ** attempt)
            late = deadline is not None and time.monotonic() + wait >= deadline
            if not err.retryable or attempt == retries or late:
                raise
            time.sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")


def fetch_generated(fetches: Sequence[Callable[[], MediaFile]], on_progress: ProgressCallback | None,
                    ids: Mapping[str, Any] | None = None) -> list[MediaFile]:
    """Fetch the files of a finished (paid) generation, reporting each; a failure never re-runs it."""
    total = len(fetches)
    report = on_progress or (lambda _p: None)
    report(Progress(0, total, message="downloading"))  # the provider has answered: the paid part is done
    files = []
    for done, fetch in enumerate(fetches, start=1):
        try:
            files.append(fetch())
        except BackendError as err:
            err.retryable = False
            err.details.update({"generated": True, **(ids or {})})
            err.message = f"The media was generated, but fetching it failed: {err.message}"
            raise
        report(Progress(done, total, message="downloaded"))
    return files


def _download(url: str, max_bytes: int, client: httpx.Client, backend: str, deadline: float | None = None) -> bytes:
    """GET one URL, streamed, aborting past `max_bytes` or the deadline; raise typed errors."""
    timeout = client.timeout if deadline is None else httpx.Timeout(max(0.01, deadline - time.monotonic()))
    try:
        with client.stream("GET", url, timeout=timeout) as response:
            _check_status(response, backend)
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise BackendBadResponse(f"the media is {declared} bytes, more than the limit of {max_bytes}",
                                         backend=backend, code="media_too_large")
            chunks, total = [], 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise BackendBadResponse(f"the media is larger than the limit of {max_bytes} bytes",
                                             backend=backend, code="media_too_large")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise BackendTimeout("the media download timed out", backend=backend, retryable=True) from None
    except httpx.TransportError as exc:
        raise BackendUnavailable(f"the media download failed: {type(exc).__name__}", backend=backend,
                                 retryable=True, code="download_failed") from None


def _check_status(response: httpx.Response, backend: str) -> None:
    """Raise the typed error for a non-2xx download response."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 429:
        raise BackendRateLimited("the media server asked us to slow down", backend=backend, retryable=True,
                                 retry_after=retry_after_seconds(response.headers.get("retry-after")))
    raise BackendBadResponse(f"the media download answered HTTP {status}", backend=backend,
                             retryable=status >= 500 or status == 408, code="download_failed",
                             details={"status": status})


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
