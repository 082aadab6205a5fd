"""What the fake ComfyUI knows: its node classes, `/object_info`, `POST /prompt` validation, and the
media files its save nodes write.

Validation copies the real server (0.3.64): an unknown class → 400 `invalid_prompt` "Cannot execute
because node X does not exist."; no output node → `prompt_no_outputs`; then per node
`required_input_missing`, `invalid_input_type`, `value_smaller_than_min`, `value_bigger_than_max`
("Value 99 bigger than max of 31") and `value_not_in_list` (with `extra_info.input_config` and
`received_value`), collected into `node_errors` under `prompt_outputs_failed_validation`.
"""
from __future__ import annotations

import io
import json
import struct
import wave
from typing import Any, Callable

from PIL import Image
from PIL.PngImagePlugin import PngInfo

SAMPLERS = {"KSampler", "KSamplerAdvanced", "SamplerCustom"}
# save node → (history output key, file extension, extra output keys)
SAVERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "SaveImage": ("images", "png", {}),
    "PreviewImage": ("images", "png", {}),
    "SaveAudio": ("audio", "wav", {}),
    "SaveAudioMP3": ("audio", "mp3", {}),
    "SaveWEBM": ("images", "webm", {"animated": [True]}),
    "SaveVideo": ("images", "mp4", {"animated": [True]}),  # ui.PreviewVideo: images + animated, as SaveWEBM
    "SaveAnimatedWEBP": ("images", "webp", {"animated": [True]}),
    "VHS_VideoCombine": ("gifs", "mp4", {}),
}
# node class → (category, output types, inputs as name:TYPE). MODEL_FILE is a loader's combo of the
# installed model files; SAMPLER_NAME and SCHEDULER_NAME are combos too; other upper-case types are links.
NODES: dict[str, tuple[str, str, str]] = {
    "EmptyImage": ("image", "IMAGE", "width:INT height:INT batch_size:INT color:INT"),
    "LoadImage": ("image", "IMAGE MASK", "image:INPUT_FILE"),
    "ImageScale": ("image/upscaling", "IMAGE", "image:IMAGE upscale_method:UPSCALE_METHOD width:INT height:INT "
                                               "crop:CROP"),
    "RepeatImageBatch": ("image/batch", "IMAGE", "image:IMAGE amount:INT"),
    "SaveImage": ("image", "", "images:IMAGE filename_prefix:STRING"),
    "PreviewImage": ("image", "", "images:IMAGE"),
    "CheckpointLoaderSimple": ("loaders", "MODEL CLIP VAE", "ckpt_name:MODEL_FILE"),
    "CLIPLoader": ("loaders", "CLIP", "clip_name:MODEL_FILE type:STRING"),
    "DualCLIPLoader": ("loaders", "CLIP", "clip_name1:MODEL_FILE clip_name2:MODEL_FILE type:STRING"),
    "TripleCLIPLoader": ("loaders", "CLIP", "clip_name1:MODEL_FILE clip_name2:MODEL_FILE clip_name3:MODEL_FILE"),
    "UNETLoader": ("loaders", "MODEL", "unet_name:MODEL_FILE weight_dtype:STRING"),
    "VAELoader": ("loaders", "VAE", "vae_name:MODEL_FILE"),
    "CLIPTextEncode": ("conditioning", "CONDITIONING", "text:STRING clip:CLIP"),
    "ConditioningZeroOut": ("conditioning", "CONDITIONING", "conditioning:CONDITIONING"),
    "FluxGuidance": ("conditioning", "CONDITIONING", "conditioning:CONDITIONING guidance:FLOAT"),
    "ConditioningStableAudio": ("conditioning", "CONDITIONING CONDITIONING",
                                "positive:CONDITIONING negative:CONDITIONING seconds_start:FLOAT seconds_total:FLOAT"),
    "LTXVConditioning": ("conditioning", "CONDITIONING CONDITIONING",
                         "positive:CONDITIONING negative:CONDITIONING frame_rate:FLOAT"),
    "TextEncodeAceStepAudio": ("conditioning", "CONDITIONING", "clip:CLIP tags:STRING lyrics:STRING "
                                                               "lyrics_strength:FLOAT"),
    "EmptyLatentImage": ("latent", "LATENT", "width:INT height:INT batch_size:INT"),
    "EmptySD3LatentImage": ("latent", "LATENT", "width:INT height:INT batch_size:INT"),
    "EmptyLatentAudio": ("latent/audio", "LATENT", "seconds:FLOAT batch_size:INT"),
    "EmptyAceStepLatentAudio": ("latent/audio", "LATENT", "seconds:FLOAT batch_size:INT"),
    "EmptyLTXVLatentVideo": ("latent/video", "LATENT", "width:INT height:INT length:INT batch_size:INT"),
    "ModelSamplingAuraFlow": ("advanced/model", "MODEL", "model:MODEL shift:FLOAT"),
    "ModelSamplingSD3": ("advanced/model", "MODEL", "model:MODEL shift:FLOAT"),
    "KSampler": ("sampling", "LATENT", "model:MODEL seed:INT steps:INT cfg:FLOAT sampler_name:SAMPLER_NAME "
                                       "scheduler:SCHEDULER_NAME positive:CONDITIONING negative:CONDITIONING "
                                       "latent_image:LATENT denoise:FLOAT"),
    "KSamplerSelect": ("sampling", "SAMPLER", "sampler_name:SAMPLER_NAME"),
    "LTXVScheduler": ("sampling", "SIGMAS", "steps:INT max_shift:FLOAT base_shift:FLOAT stretch:BOOLEAN "
                                           "terminal:FLOAT latent:LATENT"),
    "SamplerCustom": ("sampling", "LATENT LATENT", "model:MODEL add_noise:BOOLEAN noise_seed:INT cfg:FLOAT "
                                                   "positive:CONDITIONING negative:CONDITIONING sampler:SAMPLER "
                                                   "sigmas:SIGMAS latent_image:LATENT"),
    "VAEDecode": ("latent", "IMAGE", "samples:LATENT vae:VAE"),
    "VAEEncode": ("latent", "LATENT", "pixels:IMAGE vae:VAE"),
    "LTXVImgToVideo": ("conditioning/video_models", "CONDITIONING CONDITIONING LATENT",
                       "positive:CONDITIONING negative:CONDITIONING vae:VAE image:IMAGE width:INT height:INT "
                       "length:INT batch_size:INT strength:FLOAT"),
    "CreateVideo": ("image/video", "VIDEO", "images:IMAGE fps:FLOAT"),
    "SaveVideo": ("image/video", "", "video:VIDEO filename_prefix:STRING format:VIDEO_FORMAT codec:VIDEO_CODEC"),
    "VAEDecodeAudio": ("latent/audio", "AUDIO", "samples:LATENT vae:VAE"),
    "SaveAudio": ("audio", "", "audio:AUDIO filename_prefix:STRING"),
    "SaveAudioMP3": ("audio", "", "audio:AUDIO filename_prefix:STRING quality:STRING"),
    "SaveWEBM": ("image/video", "", "images:IMAGE filename_prefix:STRING codec:STRING fps:FLOAT crf:FLOAT"),
    "VHS_VideoCombine": ("Video Helper Suite", "", "images:IMAGE filename_prefix:STRING frame_rate:FLOAT"),
    "SaveAnimatedWEBP": ("image", "", "images:IMAGE filename_prefix:STRING fps:FLOAT lossless:BOOLEAN quality:INT "
                                      "method:WEBP_METHOD"),
    # model-free nodes the real-server transcript used
    "ImageBlur": ("image/postprocessing", "IMAGE", "image:IMAGE blur_radius:INT sigma:FLOAT"),
    "ImageAddNoise": ("image", "IMAGE", "image:IMAGE seed:INT strength:FLOAT"),
}
# (min, max) of number inputs, by input name, as the real node classes declare them
LIMITS: dict[str, tuple[float, float]] = {"width": (1, 16384), "height": (1, 16384), "batch_size": (1, 4096),
                                          "steps": (1, 10000), "seed": (0, 2**64 - 1), "noise_seed": (0, 2**64 - 1),
                                          "cfg": (0.0, 100.0), "blur_radius": (1, 31), "sigma": (0.1, 10.0),
                                          "strength": (0.0, 1.0), "color": (0, 0xFFFFFF), "denoise": (0.0, 1.0),
                                          "amount": (1, 4096), "length": (9, 16384), "fps": (1.0, 120.0),
                                          "quality": (0, 100)}
PYTHON_TYPES: dict[str, tuple[type, ...]] = {"INT": (int,), "FLOAT": (int, float), "STRING": (str,), "BOOLEAN": (bool,)}
COMBOS = {"SAMPLER_NAME": ["euler", "dpmpp_2m", "dpmpp_3m_sde"],
          "SCHEDULER_NAME": ["normal", "karras", "exponential", "sgm_uniform", "simple"],
          "UPSCALE_METHOD": ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"],
          "CROP": ["disabled", "center"], "VIDEO_FORMAT": ["auto", "mp4"], "VIDEO_CODEC": ["auto", "h264"],
          "WEBP_METHOD": ["default", "fastest", "slowest"]}
# inputs naming a file in ComfyUI's input folder: the node validates them itself (VALIDATE_INPUTS), so
# the combo (top-level files only) is not checked; a file that is not there is "Invalid image file"
FILE_INPUTS = {("LoadImage", "image")}
DEFAULTS = {"INT": 0, "FLOAT": 1.0, "STRING": "", "BOOLEAN": False}
# binary preview frame: event 1 (PREVIEW_IMAGE), image type 2 (PNG), then the image bytes
PREVIEW = struct.pack(">II", 1, 2) + b"\x89PNG\r\n\x1a\n" + bytes(32)


def catalogue(models: list[str], combo_style: str, without: set[str] | frozenset[str] = frozenset(),
              inputs: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Build /object_info: every node class (but those `without`), its loaders offering `models`,
    LoadImage offering the `inputs` (the files directly in the input folder)."""
    def spec(name: str, kind: str) -> list[Any]:
        values = models if kind == "MODEL_FILE" else (inputs or []) if kind == "INPUT_FILE" else COMBOS.get(kind)
        if values is not None:
            extra = {"image_upload": True} if kind == "INPUT_FILE" else {}
            return ["COMBO", {"options": values, **extra}] if combo_style == "combo" else [values, extra]
        if kind not in DEFAULTS:
            return [kind]
        limits = dict(zip(("min", "max"), LIMITS[name])) if name in LIMITS and kind in ("INT", "FLOAT") else {}
        return [kind, {"default": DEFAULTS[kind], **limits}]

    catalogue = {}
    for name, (category, outputs, inputs) in NODES.items():
        if name in without:
            continue  # as when a custom node's module failed to import
        outs = outputs.split()
        required = {input_name: spec(input_name, kind)
                    for input_name, kind in (item.split(":") for item in inputs.split())}
        catalogue[name] = {"input": {"required": required, "optional": {}}, "input_order": {"required": list(required)},
                           "output": outs, "output_is_list": [False] * len(outs), "output_name": outs, "name": name,
                           "display_name": name, "description": "", "python_module": "nodes", "category": category,
                           "output_node": name in SAVERS, "deprecated": False, "experimental": False}
    return catalogue


def is_link(value: Any) -> bool:
    """Tell whether an input is a link `[node_id, slot]`."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)


def _rejected(kind: str, message: str, details: str = "", node_errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "details": details, "extra_info": {}},
            "node_errors": node_errors or {}}


def validate(graph: Any, known: dict[str, Any], files: set[str] = frozenset()) -> tuple[int, Any]:
    """Check a prompt as ComfyUI's POST /prompt does: (200, output node ids) or (status, error body).

    `files` are the input files a LoadImage node may name (`name` or `subfolder/name`)."""
    if not isinstance(graph, dict):
        return 500, b"500 Internal Server Error\n\nServer got itself in trouble"
    for node_id, node in graph.items():
        if not isinstance(node, dict) or node.get("class_type") not in known:
            name = node.get("class_type") if isinstance(node, dict) else None
            return 400, _rejected("invalid_prompt", f"Cannot execute because node {name} does not exist.",
                                  f"Node ID '#{node_id}'")
    outputs = [nid for nid, node in graph.items() if known[node["class_type"]]["output_node"]]
    if not outputs:
        return 400, _rejected("prompt_no_outputs", "Prompt has no outputs")
    errors = {}
    for node_id, node in graph.items():
        problems = _input_errors(node, known[node["class_type"]]["input"]["required"], files)
        if problems:
            errors[node_id] = {"errors": problems, "class_type": node["class_type"],
                               "dependent_outputs": [out for out in outputs if node_id in order(graph, out)]}
    if errors:
        return 400, _rejected("prompt_outputs_failed_validation", "Prompt outputs failed validation", "", errors)
    return 200, outputs


def _input_errors(node: dict[str, Any], required: dict[str, Any], files: set[str]) -> list[dict[str, Any]]:
    """Return the validation errors of one node's inputs (required, type, min/max, combo, input file)."""
    inputs = node.get("inputs") or {}
    problems = []

    def problem(kind: str, message: str, details: str, **extra: Any) -> None:
        problems.append({"type": kind, "message": message, "details": details,
                         "extra_info": {"input_name": name, "input_config": required.get(name), **extra}})

    for name, spec in required.items():
        value = inputs.get(name)
        if name not in inputs:
            problem("required_input_missing", "Required input is missing", name)
            continue
        if is_link(value):
            continue
        if (node.get("class_type"), name) in FILE_INPUTS:
            if value not in files:  # the real error: custom validation, only the input name in extra_info
                problems.append({"type": "custom_validation_failed", "message": "Custom validation failed for node",
                                 "details": f"{name} - Invalid image file: {value}",
                                 "extra_info": {"input_name": name}})
            continue
        allowed = spec[0] if isinstance(spec[0], list) else spec[1]["options"] if spec[0] == "COMBO" else None
        if allowed is not None:
            if value not in allowed:
                problem("value_not_in_list", "Value not in list", f"{name}: '{value}' not in {allowed}",
                        received_value=value)
            continue
        kind, options = spec[0], spec[1] if len(spec) > 1 else {}
        if kind in PYTHON_TYPES and (not isinstance(value, PYTHON_TYPES[kind]) or
                                     (kind != "BOOLEAN" and isinstance(value, bool))):
            problem("invalid_input_type", f"Failed to convert an input value to a {kind} value",
                    f"{name}, {value}", received_value=value)
        elif "max" in options and value > options["max"]:
            problem("value_bigger_than_max", f"Value {value} bigger than max of {options['max']}",
                    name, received_value=value)
        elif "min" in options and value < options["min"]:
            problem("value_smaller_than_min", f"Value {value} smaller than min of {options['min']}",
                    name, received_value=value)
    return problems


def order(graph: dict[str, Any], target: str | None = None) -> list[str]:
    """Return node ids so that every node comes after the nodes it links from (only `target` and the
    nodes it depends on, when given)."""
    done: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in done or node_id not in graph:
            return
        for value in graph[node_id].get("inputs", {}).values():
            if is_link(value):
                visit(value[0])
        done.append(node_id)

    for node_id in [target] if target is not None else graph:
        visit(node_id)
    return done


def _png(graph: dict[str, Any], seed_bytes: bytes) -> bytes:
    sizes = [n["inputs"] for n in graph.values() if isinstance(n.get("inputs", {}).get("width"), int)]
    width = min(max(sizes[0]["width"], 8), 128) if sizes else 64
    height = min(max(sizes[0].get("height", width), 8), 128) if sizes else 64
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))  # as ComfyUI's SaveImage does
    out = io.BytesIO()
    Image.new("RGB", (width, height), tuple(seed_bytes[:3])).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _wav(seed_bytes: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000)
        wav.writeframes(seed_bytes * 25)
    return out.getvalue()


def _webm(seed_bytes: bytes) -> bytes:
    body = bytes.fromhex("4286810142f7810142f2810442f381084282847765626d4287810242858102")
    void = b"\xec" + bytes([0x80 | len(seed_bytes)]) + seed_bytes
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + bytes.fromhex("1853806701ffffffffffffff") + void


def _mp4(seed_bytes: bytes) -> bytes:
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 512) + b"isomiso2mp41"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 8 + len(seed_bytes)) + b"free" + seed_bytes


def _animated_webp(seed_bytes: bytes) -> bytes:
    frames = [Image.new("RGB", (16, 16), (seed_bytes[i], seed_bytes[i + 1], seed_bytes[i + 2])) for i in range(0, 12, 3)]
    out = io.BytesIO()
    frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], duration=125)
    return out.getvalue()


def _mp3(seed_bytes: bytes) -> bytes:
    # an empty ID3v2 tag, then 40 MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz: 417 bytes each, ~1 s):
    # browsers refuse to open a file of a single frame, so a playable fake needs a few
    first = b"\xff\xfb\x90\x64" + seed_bytes + bytes(417 - 4 - len(seed_bytes))
    silent = b"\xff\xfb\x90\x64" + bytes(417 - 4)
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + first + silent * 39


MAKERS: dict[str, Callable[[dict[str, Any], bytes], bytes]] = {
    "png": _png, "wav": lambda g, s: _wav(s), "mp3": lambda g, s: _mp3(s), "webm": lambda g, s: _webm(s),
    "mp4": lambda g, s: _mp4(s), "webp": lambda g, s: _animated_webp(s)}
