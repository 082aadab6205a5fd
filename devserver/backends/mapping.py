"""Fill a cloud request-body template with a request's values, at the chunk's dotted paths.

An output chunk for a cloud backend carries a `request_body` template and `input_mappings` such as
`{"prompt": {"field": "messages.0.content"}}`. Path segments that are digits index lists; every
other segment is a dict key (created when missing). Width and height mapped to the same field are
written together as `"WxH"` (the OpenAI Images `size` convention).
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from devserver.errors import ConfigError

SIZE_KEYS = frozenset({"width", "height"})


def set_path(body: Any, path: str, value: Any) -> None:
    """Set `value` at a dotted path such as `messages.0.content` inside `body` (in place)."""
    parts = path.split(".")
    if not path or any(part == "" for part in parts):
        raise ConfigError(f"request body path {path!r} is not a dotted path")
    node = body
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"request body path {path!r}: {where!r} is not an item of the list")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise ConfigError(f"request body path {path!r}: {where!r} is inside a {type(node).__name__}")


def fill_body(template: Mapping[str, Any] | None, mappings: Mapping[str, Any],
              values: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of `template` with each set value written at its mapped field."""
    body: dict[str, Any] = copy.deepcopy(dict(template or {}))
    by_path: dict[str, set[str]] = {}
    for key, mapping in mappings.items():
        by_path.setdefault(_field(mapping), set()).add(key)
    for path, keys in by_path.items():
        if keys == SIZE_KEYS:
            # a lone width or height cannot make a size: keep the template's own default then
            if keys <= values.keys():
                set_path(body, path, f"{values['width']}x{values['height']}")
        elif len(keys) > 1:
            raise ConfigError(f"input mappings {', '.join(sorted(keys))} all write to {path!r}")
        elif (key := next(iter(keys))) in values:
            set_path(body, path, values[key])
    return body


def _field(mapping: Any) -> str:
    """Return the target path of a mapping (a pydantic InputMapping or a plain dict)."""
    return mapping["field"] if isinstance(mapping, Mapping) else mapping.field
