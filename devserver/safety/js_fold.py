"""Constant folding of JavaScript expressions: the value a string expression has when the sketch runs.

Literals with every escape decoded (`\\x48`, `\\u0048`, `\\u{48}`), template literals with their
substitutions, `+` chains (folded left to right without recursion), `+=` onto a variable, names bound
by `const`/`let`/`var`; `String.fromCharCode(...)` / `fromCodePoint`, `atob('...')`,
`decodeURIComponent`/`unescape`; arrays with `.join()`, `.map(c => String.fromCharCode(c))`,
`.reverse()`, `.split()`, `.concat()`, case changes, `.repeat()`, `String(...)`.

What cannot be folded is unknown (None) and reads as empty text inside a concatenation, so
`"Haken" + x + "kreuz"` still reads as one word. Values are capped in length and nesting so that a
hostile sketch cannot make the check slow.
"""
from __future__ import annotations

import base64
import binascii
from functools import cache
from typing import Any, Callable
from urllib.parse import unquote

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

MAX_VALUE = 20_000  # characters of one folded value
MAX_DEPTH = 150  # nested expressions followed before a value counts as unknown
Value = Any  # str | int | float | list[Value] | None (None: not foldable)
SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "\n": "",
                  "\r\n": ""}



@cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_javascript.language()))


def parse(code: str) -> Node:
    """Parse JavaScript (tree-sitter recovers from errors: a broken sketch still has its strings)."""
    return _parser().parse(code.encode("utf-8", "replace")).root_node


def node_text(node: Node) -> str:
    """Return a node's source text."""
    return (node.text or b"").decode("utf-8", "replace")


def _cap(value: Value) -> Value:
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[:MAX_VALUE]
    return value


def decode_escape(escape: str) -> str:
    """Return the character(s) one JavaScript escape sequence stands for."""
    body = escape[1:]
    try:
        if body[:1] == "x" and len(body) == 3:
            return chr(int(body[1:], 16))
        if body.startswith("u{"):
            return chr(int(body[2:-1], 16))
        if body[:1] == "u" and len(body) == 5:
            return chr(int(body[1:], 16))
    except ValueError:  # an out-of-range code point: the browser would refuse the sketch too
        return ""
    return SIMPLE_ESCAPES.get(body, body)


def as_str(value: Value) -> str:
    """Return a folded value as JavaScript would print it (unknown → empty)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(as_str(v) for v in value)
    return "" if value is None else str(value)


def _char(code: Value) -> str:
    try:
        return chr(int(code)) if isinstance(code, (int, float)) else ""
    except (ValueError, OverflowError):
        return ""


def _number(raw: str) -> Value:
    raw = raw.replace("_", "")
    try:
        if raw[:2].lower() in ("0x", "0o", "0b"):
            return int(raw, 0)
        return float(raw) if "." in raw or "e" in raw.lower() else int(raw)
    except ValueError:
        return None


def _atob(value: Value) -> Value:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=False).decode("latin-1")
    except (binascii.Error, ValueError):
        return None


class Folder:
    """Folds the expressions of one program; `bindings` maps variable names to their value nodes."""

    def __init__(self, root: Node):
        self.bindings: dict[str, list[Node]] = {}
        self.params: list[dict[str, Value]] = [{}]
        self.memo: dict[int, Value] = {}
        self.active: set[int] = set()
        self._bind(root)

    def _bind(self, root: Node) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if node.type == "variable_declarator":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                if name is not None and value is not None and name.type == "identifier":
                    self.bindings.setdefault(node_text(name), []).insert(0, value)
            elif node.type == "augmented_assignment_expression" and node_text(node.child(1) or node) == "+=":
                left = node.child_by_field_name("left")
                if left is not None and left.type == "identifier":
                    self.bindings.setdefault(node_text(left), []).append(node.child_by_field_name("right"))
            stack.extend(reversed(node.children))

    def value(self, node: Node | None, depth: int = 0) -> Value:
        """Return the constant value of an expression, or None if it is not a constant."""
        if node is None or depth > MAX_DEPTH:
            return None
        pure = len(self.params) == 1  # outside a mapped function a node always has the same value
        if pure and node.id in self.memo:
            return self.memo[node.id]
        if node.id in self.active:  # `let a = a + a`: a cycle has no constant value (and must not explode)
            return None
        handler: Callable[[Node, int], Value] | None = getattr(self, f"_v_{node.type}", None)
        self.active.add(node.id)
        try:
            value = _cap(handler(node, depth + 1)) if handler else None
        finally:
            self.active.discard(node.id)
        if pure:
            self.memo[node.id] = value
        return value

    def _v_string(self, node: Node, depth: int) -> Value:
        parts = [decode_escape(node_text(c)) if c.type == "escape_sequence" else node_text(c)
                 for c in node.children if c.type in ("string_fragment", "escape_sequence")]
        return "".join(parts)

    def _v_template_string(self, node: Node, depth: int) -> Value:
        parts = []
        for child in node.children:
            if child.type == "string_fragment":
                parts.append(node_text(child))
            elif child.type == "escape_sequence":
                parts.append(decode_escape(node_text(child)))
            elif child.type == "template_substitution":
                parts.append(as_str(self.value(child.named_children[0] if child.named_children else None, depth)))
        return "".join(parts)

    def _v_number(self, node: Node, depth: int) -> Value:
        return _number(node_text(node))

    def _v_parenthesized_expression(self, node: Node, depth: int) -> Value:
        return self.value(node.named_children[-1] if node.named_children else None, depth)

    def _v_array(self, node: Node, depth: int) -> Value:
        items: list[Value] = []
        for child in node.named_children:
            value = self.value(child.named_children[0] if child.type == "spread_element" and child.named_children
                               else child, depth)
            items.extend(value if child.type == "spread_element" and isinstance(value, list) else [value])
        return items

    def _v_identifier(self, node: Node, depth: int) -> Value:
        name = node_text(node)
        for scope in reversed(self.params):
            if name in scope:
                return scope[name]
        nodes = self.bindings.get(name)
        if not nodes:
            return None
        values = [self.value(n, depth) for n in nodes]
        if len(values) == 1:
            return values[0]
        return "".join(as_str(v) for v in values)  # an initial value and its `+=` additions, in order

    def _v_binary_expression(self, node: Node, depth: int) -> Value:
        operator = node_text(node.child_by_field_name("operator") or node)
        if operator == "+":
            return self._sum(node, depth)
        left = self.value(node.child_by_field_name("left"), depth)
        right = self.value(node.child_by_field_name("right"), depth)
        if isinstance(left, (int, float)) and isinstance(right, (int, float)) and operator in ("-", "*"):
            return left - right if operator == "-" else left * right
        return None

    def _sum(self, node: Node, depth: int) -> Value:
        """Fold a chain `a + b + c ...` left to right, walking its left spine without recursion."""
        operands: list[Node | None] = []
        while node.type == "binary_expression" and node_text(node.child_by_field_name("operator") or node) == "+":
            operands.append(node.child_by_field_name("right"))
            node = node.child_by_field_name("left")  # type: ignore[assignment]
            if node is None:
                break
        operands.append(node)
        total: Value = None
        for operand in reversed(operands):
            value = self.value(operand, depth)
            if total is None:
                total = value
            elif isinstance(total, (int, float)) and isinstance(value, (int, float)):
                total = total + value
            else:
                total = _cap(as_str(total) + as_str(value))
        return total

    def args(self, node: Node, depth: int = 0) -> list[Value]:
        """Return the folded arguments of a call."""
        args = node.child_by_field_name("arguments")
        if args is None:
            return []
        return self._v_array(args, depth) if args.type == "arguments" else [self.value(args, depth)]

    def _v_call_expression(self, node: Node, depth: int) -> Value:
        function = node.child_by_field_name("function")
        if function is None:
            return None
        name = node_text(function)
        args = self.args(node, depth)
        first = args[0] if args else None
        if name in ("String.fromCharCode", "String.fromCodePoint"):
            flat = [c for a in args for c in (a if isinstance(a, list) else [a])]
            return "".join(_char(c) for c in flat)
        if name in ("atob", "window.atob"):
            return _atob(first)
        if name in ("decodeURIComponent", "decodeURI", "unescape"):
            return unquote(first) if isinstance(first, str) else None
        if name == "String":
            return as_str(first)
        if function.type == "member_expression":
            return self._method(function, args, depth)
        return None

    def _method(self, function: Node, args: list[Value], depth: int) -> Value:
        target = self.value(function.child_by_field_name("object"), depth)
        method = node_text(function.child_by_field_name("property") or function)
        first = args[0] if args else None
        if method == "join" and isinstance(target, list):
            return (first if isinstance(first, str) else ",").join(as_str(v) for v in target)
        if method == "map" and isinstance(target, list):
            return self._map(function.parent, target, depth)
        if method == "reverse" and isinstance(target, list):
            return target[::-1]
        if method == "concat":
            return target + [a for arg in args for a in (arg if isinstance(arg, list) else [arg])] \
                if isinstance(target, list) else as_str(target) + "".join(as_str(a) for a in args)
        if not isinstance(target, str):
            return None
        if method == "split":
            return list(target) if first == "" else target.split(first) if isinstance(first, str) else [target]
        if method in ("toUpperCase", "toLocaleUpperCase"):
            return target.upper()
        if method in ("toLowerCase", "toLocaleLowerCase"):
            return target.lower()
        if method == "repeat" and isinstance(first, int):
            return target * max(0, min(first, MAX_VALUE // max(1, len(target))))
        if method in ("toString", "valueOf", "trim", "normalize"):
            return target.strip() if method == "trim" else target
        return None

    def _map(self, call: Node | None, items: list[Value], depth: int) -> Value:
        """Apply an arrow function with one parameter to every item (e.g. `c => String.fromCharCode(c)`)."""
        args = call.child_by_field_name("arguments") if call is not None else None
        arrow = args.named_children[0] if args is not None and args.named_children else None
        if arrow is None or arrow.type != "arrow_function":
            return None
        param = arrow.child_by_field_name("parameter") or arrow.child_by_field_name("parameters")
        names = [node_text(param)] if param is not None and param.type == "identifier" else \
            [node_text(p) for p in (param.named_children if param is not None else []) if p.type == "identifier"]
        if not names:
            return None
        out = []
        for item in items:
            self.params.append({names[0]: item})
            try:
                out.append(self.value(arrow.child_by_field_name("body"), depth))
            finally:
                self.params.pop()
        return out
