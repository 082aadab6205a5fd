"""Media download and validation: magic bytes decide, size limits hold, transient errors are retried."""
from __future__ import annotations

import io
import time
import wave

import httpx
import pytest

from devserver.backends.download import fetch_media, retry_after_seconds, sniff_mime
from devserver.errors import BackendBadResponse, BackendError, BackendTimeout, BackendUnavailable
from tests.fakes.openai_fake import OpenAIFake
from tests.fakes.openrouter_fake import data_url, tiny_png
from tests.fakes.server import closed_port_url


def wav_bytes() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 80)
    return out.getvalue()


SAMPLES = {
    "image/png": tiny_png(),
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "image/gif": b"GIF89a\x01\x00\x01\x00",
    "audio/mpeg": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "audio/wav": wav_bytes(),
    "audio/flac": b"fLaC\x00\x00\x00\x22",
    "audio/ogg": b"OggS\x00\x02\x00\x00",
    "video/mp4": b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00",
    "audio/mp4": b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00",
    "video/webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81",
}


@pytest.mark.parametrize("mime", sorted(SAMPLES))
def test_sniff_recognises_each_supported_format(mime):
    assert sniff_mime(SAMPLES[mime]) == mime


def test_mp3_without_id3_is_recognised_by_its_frame_sync():
    assert sniff_mime(b"\xff\xfb\x90\x64\x00\x00") == "audio/mpeg"  # MPEG-1 layer III, 128 kbit/s


@pytest.mark.parametrize("data", [b"", b"<html>error</html>", b'{"error": "x"}', b"\xff\xf1\x50\x80",
                                  b"RIFF\x24\x00\x00\x00AVI ", b"\xff\xfb\xf0\x00"])
def test_sniff_refuses_everything_else(data):
    assert sniff_mime(data) is None


@pytest.fixture
def client():
    with httpx.Client(timeout=0.6) as c:
        yield c


@pytest.fixture
def fake():
    with OpenAIFake() as server:
        yield server


def test_data_url_bytes_decide_the_type_not_the_declared_one(client):
    media = fetch_media(data_url(tiny_png(), "image/jpeg"), 10_000, client, stem="run1_0")
    assert media.mime == "image/png" and media.name == "run1_0.png" and media.data == tiny_png()


@pytest.mark.parametrize("url, code", [
    (data_url(b"<svg onload=alert(1)>", "image/png"), "not_media"),
    ("data:image/png;base64,!!!notbase64", "bad_media_url"),
    ("data:image/png,rawtext", "bad_media_url"),
    ("file:///etc/passwd", "bad_media_url"),
    ("ftp://example.org/x.png", "bad_media_url"),
])
def test_bad_urls_and_bad_bytes_are_refused(client, url, code):
    with pytest.raises(BackendBadResponse) as caught:
        fetch_media(url, 10_000, client)
    assert caught.value.code == code


def test_a_data_url_past_the_limit_is_refused_before_decoding(client):
    with pytest.raises(BackendBadResponse) as caught:
        fetch_media(data_url(b"\x89PNG\r\n\x1a\n" + b"\0" * 5000), 1000, client)
    assert caught.value.code == "media_too_large"


def test_download_returns_the_validated_file(fake, client):
    fake.files["a.png"] = tiny_png(3, 3)
    media = fetch_media(f"{fake.url}/files/a.png", 10_000, client, stem="out")
    assert (media.mime, media.name, media.data) == ("image/png", "out.png", tiny_png(3, 3))


def test_transient_failures_are_retried(fake, client):
    fake.files["a.png"] = tiny_png()
    fake.file_failures = 2
    media = fetch_media(f"{fake.url}/files/a.png", 10_000, client, retries=2, backoff=0.01)
    assert media.mime == "image/png"
    assert len(fake.received("/files/a.png")) == 3


def test_retries_stop_and_the_error_stays_typed(fake, client):
    fake.files["a.png"] = tiny_png()
    fake.file_failures = 5
    with pytest.raises(BackendError) as caught:
        fetch_media(f"{fake.url}/files/a.png", 10_000, client, retries=1, backoff=0.01)
    assert caught.value.retryable and caught.value.details["status"] == 503
    assert len(fake.received("/files/a.png")) == 2


def test_a_missing_file_is_not_retried(fake, client):
    with pytest.raises(BackendBadResponse) as caught:
        fetch_media(f"{fake.url}/files/nope.png", 10_000, client, retries=3, backoff=0.01)
    assert not caught.value.retryable and len(fake.received("/files/nope.png")) == 1


@pytest.mark.parametrize("chunked", [False, True])
def test_a_file_past_the_limit_is_aborted(fake, client, chunked):
    fake.files["big.png"] = b"\x89PNG\r\n\x1a\n" + bytes(3_000_000)
    fake.chunked_files = chunked
    started = time.monotonic()
    with pytest.raises(BackendBadResponse) as caught:
        fetch_media(f"{fake.url}/files/big.png", 100_000, client)
    assert caught.value.code == "media_too_large" and not caught.value.retryable
    assert time.monotonic() - started < 2


def test_the_content_type_header_is_not_trusted(fake, client):
    fake.files["page.png"] = b"<html>Sign in to continue</html>"
    with pytest.raises(BackendBadResponse) as caught:
        fetch_media(f"{fake.url}/files/page.png", 10_000, client)
    assert caught.value.code == "not_media"


def test_a_slow_server_times_out(fake, client):
    fake.files["a.png"] = tiny_png()
    fake.file_delay = 5
    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        fetch_media(f"{fake.url}/files/a.png", 10_000, client, retries=1, backoff=0.01)
    assert time.monotonic() - started < 3


def test_an_unreachable_server_is_unavailable(client):
    with pytest.raises(BackendUnavailable) as caught:
        fetch_media(f"{closed_port_url()}/a.png", 10_000, client, retries=0)
    assert caught.value.retryable


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < retry_after_seconds(future) <= 31

