"""The picture a ComfyUI output starts from (img2img, image → video): checked before any call, named per job.

A chunk takes a picture when it maps `input_image` (to a LoadImage node). Its file name in
ComfyUI's input folder comes from the job, not from the student's file: every retry of the job
uploads under the same name (and overwrites), and no student's file name reaches the server.
"""
from __future__ import annotations

from devserver.backends.base import MediaFile, MediaRequest
from devserver.backends.download import EXTENSIONS, sniff_mime
from devserver.errors import BackendError

INPUT_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")  # what ComfyUI's LoadImage opens


def input_image(request: MediaRequest) -> MediaFile | None:
    """Return the picture the chunk starts from (None when it takes none); refuse a missing or broken one."""
    if not request.chunk.takes_image:
        return None
    image = request.input_image
    if image is None:
        raise BackendError("This output starts from a picture, but none was given: upload one first.",
                           code="input_image_missing", status=400, details={"output": request.chunk.name})
    if sniff_mime(image.data) not in INPUT_IMAGE_TYPES:
        raise BackendError("The picture for this output is not a PNG, JPEG or WebP image.",
                           code="input_image_invalid", status=400, details={"output": request.chunk.name})
    return image


def upload_name(job_uuid: str, image: MediaFile) -> str:
    """Return the file name of a job's picture (`job_uuid`: the same for every attempt of the job)."""
    return f"devserver_{job_uuid}.{EXTENSIONS[sniff_mime(image.data) or image.mime]}"
