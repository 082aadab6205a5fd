"""ComfyUI's JSON documents: graph injection, `/object_info` checks and `POST /prompt` rejections.

No I/O here. A graph is `{node_id: {"class_type": str, "inputs": {name: value | [node_id, slot]}}}`;
an input whose value is a two-element `[node_id, slot]` list is a link to another node's output.
`/object_info` describes each node class; a "combo" input (a list of allowed values such as the
checkpoint files a loader can open) is `[[values...], {...}]` in the classic format and
`["COMBO", {"options": [values...]}]` in the newer one.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

from devserver.errors import ConfigError

# How each mappable value is typed before it goes into the graph (ComfyUI validates types strictly).
COERCE: dict[str, type] = {"prompt": str, "negative_prompt": str, "seed": int, "width": int,
                           "height": int, "steps": int, "cfg": float, "duration": float, "denoise": float,
                           "input_image": str}


def is_link(value: Any) -> bool:
    """Tell whether an input value is a link `[node_id, slot]` rather than a literal."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def inject(workflow: Mapping[str, Any], mappings: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Return a deep copy of `workflow` with each mapped value written into its node input.

    `mappings` maps a value name to an object with `node` and `field` (an `InputMapping`); values
    without a mapping are left out (the caller records them). The input workflow is never changed.
    """
    graph = copy.deepcopy(dict(workflow))
    for name, value in values.items():
        mapping = mappings.get(name)
        if mapping is None:
            continue
        node = graph.get(mapping.node)
        if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
            raise ConfigError(f"input mapping {name!r} points at node {mapping.node!r}, which is not in the workflow")
        inputs = node["inputs"]
        if mapping.field not in inputs:
            raise ConfigError(f"input mapping {name!r}: node {mapping.node!r} has no input {mapping.field!r}")
        if is_link(inputs[mapping.field]):
            # Overwriting a link with a literal would silently cut the graph apart.
            raise ConfigError(f"input mapping {name!r}: {mapping.node}.{mapping.field} is a link, not a value")
        inputs[mapping.field] = COERCE.get(name, lambda v: v)(value)
    return graph


def unmapped(mappings: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    """Return the names of values that have no mapping in this workflow (so they were not sent)."""
    return sorted(name for name in values if name not in mappings)


def mapped_value(graph: Mapping[str, Any], mappings: Mapping[str, Any], name: str) -> Any:
    """Return the value the graph holds at the input mapped to `name` (None when unmapped)."""
    mapping = mappings.get(name)
    if mapping is None:
        return None
    return graph.get(mapping.node, {}).get("inputs", {}).get(mapping.field)


def combo_values(spec: Any) -> list[str] | None:
    """Return the allowed values of an `/object_info` input spec, or None when it is not a combo."""
    if not isinstance(spec, list) or not spec:
        return None
    if isinstance(spec[0], list):
        return [str(v) for v in spec[0]]
    if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], Mapping):
        options = spec[1].get("options")
        return [str(v) for v in options] if isinstance(options, list) else None
    return None


def node_combos(object_info: Mapping[str, Any], class_type: str) -> dict[str, list[str]]:
    """Return every combo input of a node class with its allowed values."""
    info = object_info.get(class_type)
    combos: dict[str, list[str]] = {}
    if not isinstance(info, Mapping):
        return combos
    for group in ("required", "optional"):
        for name, spec in (info.get("input", {}).get(group) or {}).items():
            allowed = combo_values(spec)
            if allowed is not None:
                combos[name] = allowed
    return combos


def _norm(path: str) -> str:
    # A Windows ComfyUI lists "SD1.5\\model.safetensors"; configs are written with "/".
    return path.replace("\\", "/")


def missing_nodes(graph: Mapping[str, Any], object_info: Mapping[str, Any]) -> list[str]:
    """Return the class types the graph uses that the server does not know (sorted, unique)."""
    return sorted({node.get("class_type", "?") for node in graph.values()
                   if isinstance(node, Mapping) and node.get("class_type") not in object_info})


def missing_models(graph: Mapping[str, Any], object_info: Mapping[str, Any], required: Iterable[str]) -> list[str]:
    """Return the required model files that no combo input of the graph's node classes offers."""
    offered: set[str] = set()
    for class_type in {node.get("class_type") for node in graph.values() if isinstance(node, Mapping)}:
        for allowed in node_combos(object_info, str(class_type)).values():
            offered.update(_norm(v) for v in allowed)
    return [model for model in required if _norm(model) not in offered]


def offered_anywhere(object_info: Mapping[str, Any], model: str) -> bool:
    """Tell whether any node class offers `model` in one of its combo inputs."""
    target = _norm(model)
    return any(target in map(_norm, allowed)
               for class_type in object_info for allowed in node_combos(object_info, class_type).values())


def output_files(outputs: Mapping[str, Any]) -> list[dict[str, str]]:
    """Return the file entries of one node's history outputs, under whatever key the save node used."""
    files: list[dict[str, str]] = []
    for items in outputs.values():  # under "images", "audio", "gifs", "videos", ... per save node
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get("filename"), str):
                files.append({"filename": item["filename"], "subfolder": str(item.get("subfolder", "")),
                              "type": str(item.get("type", "output"))})
    return files


def uploaded_ref(answer: Mapping[str, Any]) -> str:
    """Return how a LoadImage input names a file `POST /upload/image` stored: `subfolder/name`."""
    name, subfolder = answer.get("name"), answer.get("subfolder") or ""
    if not isinstance(name, str) or not name or not isinstance(subfolder, str):
        raise ValueError("the upload answer names no file")
    return f"{subfolder.strip('/')}/{name}" if subfolder.strip("/") else name


def node_errors(answer: Mapping[str, Any]) -> dict[str, Any]:
    """Return the per-node validation errors of a rejected `POST /prompt` answer."""
    errors = answer.get("node_errors")
    return dict(errors) if isinstance(errors, Mapping) else {}


def rejection_text(answer: Mapping[str, Any]) -> str:
    """Summarise a rejected `POST /prompt`: the error message plus each node's first problem."""
    error = answer.get("error")
    parts = [f"{error.get('message', '')} {error.get('details', '')}".strip()] if isinstance(error, Mapping) else []
    for node_id, problem in node_errors(answer).items():
        problem = problem if isinstance(problem, Mapping) else {}
        first = (problem.get("errors") or [{}])[0]
        parts.append(f"node {node_id} ({problem.get('class_type', '?')}): {first.get('message', '')} "
                     f"{first.get('details', '')}".strip())
    return "; ".join(part for part in parts if part)
