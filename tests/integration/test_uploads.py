"""Picture uploads: what is stored is the picture alone (no GPS), every bad file is refused with nothing
stored, someone else's run is a 404, and at kids level the image check (the Ollama vision fake) decides.
"""
from __future__ import annotations

import io
import random
import uuid
from typing import Any, Iterator

import pytest
from PIL import Image

from tests.fakes.ollama_fake import OllamaFake
from tests.fakes.vision import pixel_digest

VISION = "llama3.2-vision:latest"


def picture(fmt: str = "PNG", size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30),
            **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt, **save)
    return out.getvalue()


def noise(size: tuple[int, int]) -> bytes:
    """A PNG that does not compress: its file size grows with its pixels."""
    rng = random.Random(7)
    out = io.BytesIO()
    Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3))).save(out, "PNG")
    return out.getvalue()


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def photo_with_gps() -> bytes:
    """A JPEG as a phone writes it: EXIF with camera, time and a GPS position, and an ICC profile."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "PhoneMaker", "Phone 12", "2026:11:28 10:15:00"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    exif[0x0112] = 6  # "rotate 90° to show": the stored picture must be upright without it
    return picture("JPEG", size=(80, 40), exif=exif.tobytes(), icc_profile=b"\0" * 128 + b"fake icc profile")


def upload(client, run_id: str, data: bytes, name: str = "picture.png"):
    return client.post("/api/uploads", data={"run_id": run_id, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def nothing_stored(app, run_id: str) -> bool:
    recorder = app.extensions["devserver.recorder"]
    return not recorder.exists(run_id) and not (recorder.runs_dir / run_id).exists()


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(models=(VISION,)) as fake:
        yield fake


def test_the_stored_picture_has_no_gps_no_exif_and_stands_upright(make_app):
    app = make_app()
    client, run_id = app.test_client(), str(uuid.uuid4())
    r = upload(client, run_id, photo_with_gps(), "IMG_0001.jpg")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["run_id"] == run_id and body["mime"] == "image/jpeg"
    assert (body["width"], body["height"]) == (40, 80)  # the EXIF orientation was applied, then dropped
    recorder = app.extensions["devserver.recorder"]
    stored = recorder.entity_path(run_id, body["file"]).read_bytes()
    assert body["bytes"] == len(stored) and b"PhoneMaker" not in stored and b"fake icc profile" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif() and not image.getexif().get_ifd(0x8825)
        assert "icc_profile" not in image.info and "exif" not in image.info
    item = next(i for i in recorder.events(run_id) if i["item_type"] == "user_input_image")
    assert item["file"] == body["file"] and {"exif", "gps", "icc_profile"} <= set(item["metadata"]["metadata_removed"])
    assert client.get(f"/api/pipeline/{run_id}/status").status_code == 200  # the run is the uploader's


def test_a_second_picture_joins_the_same_run_as_the_next_numbered_file(make_app):
    app = make_app()
    client, run_id = app.test_client(), str(uuid.uuid4())
    first = upload(client, run_id, picture()).get_json()["file"]
    second = upload(client, run_id, picture("WEBP"), "p.webp").get_json()["file"]
    assert first != second and second.endswith(".webp")
    assert app.extensions["devserver.recorder"].entities(run_id) == [first, second]


BAD_FILES = {
    "not an image": (lambda: b"%PDF-1.7 this is a document, not a picture" * 10, 400, "not_an_image"),
    "a GIF (animated)": (lambda: animated("GIF"), 400, "not_an_image"),
    "an animated WebP": (lambda: animated("WEBP"), 400, "animated_image"),
    "an animated PNG (APNG)": (lambda: animated("PNG"), 400, "animated_image"),
    "a truncated PNG": (lambda: noise((64, 64))[:3000], 400, "corrupt_image"),
    "a truncated JPEG": (lambda: picture("JPEG", size=(256, 256))[:400], 400, "corrupt_image"),
    "PNG bytes, then garbage": (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, 400, "corrupt_image"),
    "too many pixels": (lambda: picture(size=(200, 100)), 413, "image_too_many_pixels"),
    "too large a file": (lambda: noise((60, 60)), 413, "upload_too_large"),
    "too large a request": (lambda: noise((200, 200)), 413, "upload_too_large"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_every_bad_file_is_refused_naming_the_limit_and_nothing_is_stored(make_app, case):
    make, status, code = BAD_FILES[case]
    app = make_app(UPLOAD_MAX_BYTES=5_000, UPLOAD_MAX_PIXELS=10_000)
    run_id = str(uuid.uuid4())
    r = upload(app.test_client(), run_id, make())
    error = r.get_json()["error"]
    assert (r.status_code, error["code"]) == (status, code), error
    if status == 413:
        assert set(error["details"]) & {"limit_bytes", "limit_pixels"}
    assert nothing_stored(app, run_id)


def test_an_upload_into_someone_elses_run_is_a_404_and_changes_nothing(make_app):
    app = make_app()
    recorder = app.extensions["devserver.recorder"]
    other = recorder.open_run(str(uuid.uuid4()), {"status": "succeeded", "session": "ws-other", "student": "st-other"})
    r = upload(app.test_client(), other.run_id, picture())
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "run_not_found"
    assert recorder.entities(other.run_id) == [] and recorder.events(other.run_id) == []


def test_missing_field_and_bad_run_id_are_400(make_app):
    client = make_app().test_client()
    r = client.post("/api/uploads", data={"run_id": str(uuid.uuid4())}, content_type="multipart/form-data")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "file_missing"
    assert upload(client, "../../etc", picture()).get_json()["error"]["code"] == "invalid_run_id"


def test_at_kids_level_an_unsafe_picture_is_refused_with_a_child_friendly_message(make_app, ollama):
    app = make_app(OLLAMA_URL=ollama.url, IMAGE_CHECK_MODEL=f"ollama/{VISION}", DEFAULT_SAFETY_LEVEL="kids",
                   RETRY_ATTEMPTS=1)
    client = app.test_client()
    harmful = picture(colour=(20, 20, 200))
    ollama.unsafe_images.add(pixel_digest(harmful))
    run_id = str(uuid.uuid4())
    r = upload(client, run_id, harmful)
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "image_refused" and error["details"]["message"]["de"]["title"]
    assert error["details"]["message"]["en"]["try_instead"] and "violent" not in str(error).lower()
    assert nothing_stored(app, run_id) and ollama.images_seen  # the vision model really looked

    fine = upload(client, run_id, picture(colour=(30, 200, 30)))
    assert fine.status_code == 201
    checks = [i for i in app.extensions["devserver.recorder"].events(run_id) if i["item_type"] == "stage1_safety_check"]
    assert checks and checks[0]["metadata"]["decision"] == "allow"


def test_at_kids_level_a_picture_that_cannot_be_checked_is_refused(make_app, ollama):
    app = make_app(OLLAMA_URL=ollama.url, IMAGE_CHECK_MODEL=f"ollama/{VISION}", DEFAULT_SAFETY_LEVEL="kids",
                   RETRY_ATTEMPTS=1)
    ollama.mode = "server_error"
    run_id = str(uuid.uuid4())
    r = upload(app.test_client(), run_id, picture())
    assert r.status_code == 422 and r.get_json()["error"]["details"]["category"] == "unchecked_blocked"
    assert nothing_stored(app, run_id)


def test_uploads_are_rate_limited(make_app):
    client = make_app(UPLOADS_PER_MINUTE=2).test_client()
    run_id = str(uuid.uuid4())
    assert [upload(client, run_id, picture()).status_code for _ in range(3)] == [201, 201, 429]
