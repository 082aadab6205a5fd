"""Read a generated p5.js sketch the way its viewer will see it, and list what it would load.

A term hidden from a word filter by building it at run time is still the term on the canvas. So the
sketch is parsed (tree-sitter's JavaScript grammar) and every string-valued expression is read after
constant folding (`js_fold.py`), together with the comments. The same walk lists everything that would
load something from outside the sketch: network calls, `import`, p5 loaders with anything but an inline
`data:` URL, and any URL (`http(s)://`, `ws(s)://`, protocol-relative `//host`) in a string value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from devserver.safety.js_fold import Folder, as_str, node_text, parse

MAX_TOTAL = 200_000  # characters of folded text read per sketch (a sketch itself has a few thousand)
# Calls that fetch something over the network, whatever their argument.
NETWORK_CALLS = frozenset({"fetch", "XMLHttpRequest", "WebSocket", "EventSource", "Worker", "SharedWorker",
                           "importScripts", "sendBeacon", "httpGet", "httpPost", "httpDo", "open"})
# Names that only ever mean the network, wherever they appear (not `open`: a common variable name).
NETWORK_NAMES = NETWORK_CALLS - {"open"}
# p5 loaders: only an inline `data:` URL keeps them inside the sketch.
LOADERS = frozenset({"loadImage", "loadFont", "loadJSON", "loadStrings", "loadXML", "loadTable", "loadBytes",
                     "loadModel", "loadShader", "loadSound", "createImg", "createVideo", "createAudio"})
URL = re.compile(r"\b(?:https?|wss?|ftps?)\s*:|(?:^|[\s\"'=(,])//[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE)


@dataclass(frozen=True)
class CodeReading:
    """What a sketch shows and what it would load: folded texts (and comments) and remote loads."""

    texts: tuple[str, ...]
    remote: tuple[str, ...]


STRING_NODES = frozenset({"string", "template_string", "binary_expression", "call_expression", "identifier"})


def _outermost(node: Node, parent: Node | None) -> bool:
    """Tell whether a node's value is read on its own: not a piece of a larger `+` chain, and an
    identifier only where it is passed to a call (its binding is read where it is declared)."""
    if parent is None:
        return True
    if parent.type == "binary_expression" and node_text(parent.child_by_field_name("operator") or parent) == "+":
        return False
    return node.type != "identifier" or parent.type == "arguments"


def _callee(node: Node) -> str:
    function = node.child_by_field_name("function") or node.child_by_field_name("constructor")
    if function is None:
        return ""
    if function.type == "import":
        return "import"
    if function.type == "member_expression":
        return node_text(function.child_by_field_name("property") or function)
    return node_text(function)


def read_js(code: str) -> CodeReading:
    """Fold a sketch's string values and list its remote loads (each described for the teacher)."""
    root = parse(code)
    folder = Folder(root)
    texts: list[str] = []
    remote: list[str] = []
    budget = MAX_TOTAL
    stack: list[tuple[Node, Node | None]] = [(root, None)]  # with the parent: Node.parent costs O(depth)
    while stack:
        node, parent = stack.pop()
        kind = node.type
        if kind == "comment":
            texts.append(node_text(node))
        elif kind in ("import_statement", "export_statement") and node.child_by_field_name("source") is not None:
            remote.append(f"import from {node_text(node.child_by_field_name('source'))[:80]}")
        elif kind == "identifier" and node_text(node) in NETWORK_NAMES:
            remote.append(f"uses {node_text(node)}")  # also `const f = fetch; f(url)`
        elif kind == "subscript_expression" and as_str(folder.value(node.child_by_field_name("index"))) in \
                NETWORK_CALLS | LOADERS:  # window["fe" + "tch"](...)
            remote.append(f"network access via [{as_str(folder.value(node.child_by_field_name('index')))!r}]")
        elif kind in ("call_expression", "new_expression"):
            callee = _callee(node)
            if callee in NETWORK_CALLS or callee == "import":
                remote.append(f"network call {callee}()")
            elif callee in LOADERS:
                args = node.child_by_field_name("arguments")
                target = folder.value(args.named_children[0] if args is not None and args.named_children else None)
                if not (isinstance(target, str) and target.strip().lower().startswith("data:")):
                    remote.append(f"{callee}({as_str(target)[:80] or '…'}) loads a file from outside the sketch")
        if kind in STRING_NODES and _outermost(node, parent) and budget > 0:
            value = folder.value(node)
            if isinstance(value, (str, list)):
                # an array of pieces is read joined (as one word) and spaced (as a list of words)
                for text in ([value] if isinstance(value, str) else
                             ["".join(as_str(v) for v in value), " ".join(as_str(v) for v in value)]):
                    if text.strip():
                        texts.append(text)
                        budget -= len(text)
                        if URL.search(text):
                            remote.append(f"URL in a string: {text.strip()[:80]}")
        stack.extend((child, node) for child in reversed(node.children))
    return CodeReading(tuple(dict.fromkeys(texts)), tuple(dict.fromkeys(remote)))
