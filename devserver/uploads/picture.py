"""A student's picture made safe to keep: type by magic bytes, limits, one still frame, metadata stripped.

`clean(data, max_bytes, max_pixels)` is a pure function: bytes in, a `CleanPicture` out, or an
`UploadRefused` naming the limit. The order matters:

1. size in bytes (413) before anything is parsed;
2. the type from the first bytes (PNG, JPEG, WebP — never the file name or the browser's MIME type);
3. the pixel count from the header (413) before a single pixel is decoded (no decompression bombs);
4. animated pictures (APNG, animated WebP) are refused: a generator takes one still picture;
5. the whole picture is decoded (a truncated or corrupt file is refused here) and re-encoded by Pillow
   from the pixels alone: EXIF (GPS position, camera, time), XMP, ICC profiles and text chunks do not
   survive. The EXIF orientation is applied first, so a tablet photo stays upright without it.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from devserver.errors import AppError

MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
JPEG_QUALITY = 92
METADATA_KEYS = ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "photoshop", "comment")


class UploadRefused(AppError):
    """400 (or 413 for a limit in size): the file cannot be taken as a picture."""

    status, code = 400, "invalid_image"


@dataclass(frozen=True)
class CleanPicture:
    """A re-encoded picture without metadata, with what the record needs to know about it."""

    data: bytes
    mime: str
    width: int
    height: int
    removed: tuple[str, ...]  # the kinds of metadata the original carried (exif, gps, icc_profile, xmp ...)

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.mime]


def sniff(data: bytes) -> str | None:
    """Return the MIME type the first bytes announce (PNG, JPEG, WebP only), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def clean(data: bytes, max_bytes: int, max_pixels: int) -> CleanPicture:
    """Check a file against the limits and return it re-encoded without metadata; raise UploadRefused."""
    if len(data) > max_bytes:
        raise UploadRefused(f"The picture is larger than {max_bytes // 1_000_000} MB. Choose a smaller one.",
                            code="upload_too_large", status=413, details={"limit_bytes": max_bytes, "bytes": len(data)})
    mime = sniff(data)
    if mime is None:
        raise UploadRefused("This file is not a picture. Choose a PNG, JPEG or WebP picture.", code="not_an_image",
                            details={"accepted": sorted(MIMES.values())})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own pixel limit decides
        try:
            with Image.open(io.BytesIO(data), formats=tuple(MIMES)) as image:
                return _reencode(image, mime, max_pixels)
        except UploadRefused:
            raise
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise UploadRefused("The picture is damaged or incomplete and cannot be read.", code="corrupt_image",
                                details={"reason": type(exc).__name__}) from None


def _reencode(image: Image.Image, mime: str, max_pixels: int) -> CleanPicture:
    if MIMES.get(image.format or "") != mime:  # the first bytes and the decoder must agree
        raise UploadRefused("The file's content does not match a PNG, JPEG or WebP picture.", code="corrupt_image")
    width, height = image.size
    if width * height > max_pixels:
        raise UploadRefused(f"The picture has more than {max_pixels:,} pixels ({width} x {height}). "
                            "Choose a smaller one.", code="image_too_many_pixels", status=413,
                            details={"limit_pixels": max_pixels, "width": width, "height": height})
    if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
        raise UploadRefused("Moving pictures cannot be used. Choose a still picture.", code="animated_image",
                            details={"frames": getattr(image, "n_frames", None)})
    removed = _metadata_kinds(image)
    image.load()  # decodes every pixel: a truncated or corrupt file fails here
    upright = ImageOps.exif_transpose(image) or image
    pixels = _plain_mode(upright, mime)
    pixels.info = {}  # nothing of the original's metadata may reach the encoder
    out = io.BytesIO()
    if mime == "image/jpeg":
        pixels.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    elif mime == "image/webp":
        pixels.save(out, format="WEBP", quality=JPEG_QUALITY, exif=b"", icc_profile=None, xmp="")
    else:
        pixels.save(out, format="PNG", optimize=False)
    return CleanPicture(out.getvalue(), mime, pixels.width, pixels.height, removed)


def _plain_mode(image: Image.Image, mime: str) -> Image.Image:
    """Return the picture in a mode its format stores plainly (palette and CMYK become RGB or RGBA)."""
    if image.mode.startswith("I;16"):  # 16-bit grey (scans, some PNGs): scaled to 8 bits, not clipped to white
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    if mime == "image/jpeg":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _metadata_kinds(image: Image.Image) -> tuple[str, ...]:
    """Name the metadata the original carries (for the record: what was removed)."""
    kinds = [key for key in METADATA_KEYS if image.info.get(key)]
    exif = image.getexif()
    if exif:
        kinds.append("exif")
        if exif.get_ifd(0x8825):  # the GPS block
            kinds.append("gps")
    text = getattr(image, "text", None)
    if text:
        kinds.append("text_chunks")
    return tuple(dict.fromkeys(kinds))
