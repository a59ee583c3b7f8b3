"""PostgreSQL's node text (``nodeToString``), as the server-side check receives it: read it, and no more.

The check never creates anything to get a query's analysis. It asks PostgreSQL to prepare the statement (parse
analysis only, in a READ ONLY transaction) with ``debug_print_parse`` on, and reads the analysed tree from the
LOG message the server sends back (:func:`analysed_tree`). That message is ``format_node_dump`` of the node
text: broken into lines of at most 78 bytes, each line break replacing one space, except where a run of 78
bytes has no space at all (a long escaped identifier), which is cut mid-token. :func:`undo_line_breaks` puts
the spaces back and refuses the one ambiguous case rather than guess.

This module imports nothing from the package: it only reads text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "LINE_BYTES",
    "Node",
    "bitmap",
    "const_bytes",
    "const_int",
    "const_text",
    "oids",
    "parse_node_tree",
    "undo_line_breaks",
    "walk",
]

# format_node_dump's LINELEN (src/backend/nodes/print.c, unchanged since 1996).
LINE_BYTES = 78
# regproc, regprocedure, regoper, regoperator, regclass, regtype: a constant that names an object.
OBJECT_NAME_TYPES = frozenset({"24", "2202", "2203", "2204", "2205", "2206"})


class Node(dict):
    """One ``{NAME :field value ...}`` of PostgreSQL's node text format."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def undo_line_breaks(dump: str, encoding: str = "utf-8") -> str:
    """The node text behind ``format_node_dump``'s output. Raises ValueError when a line could have been cut
    mid-token (78 bytes and no space after its first byte): the reading would then be a guess."""
    lines = dump.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines[:-1]:
        if len(line.encode(encoding)) >= LINE_BYTES and " " not in line[1:]:
            raise ValueError("the analysis holds a token longer than a line (a very long escaped name)")
    return " ".join(lines)


# As PostgreSQL's pg_strtok reads it: a token runs to whitespace or a bracket, a backslash protects the next
# character, and a double quote is an ordinary character (outToken escapes only a leading one, so an
# identifier such as a" prints as "a"" and must not pair up with the next quote).
_TOKEN = re.compile(r"\s*((?:[^\s(){}\\]|\\.)+|[(){}])", re.DOTALL)


def _tokens(text: str) -> Iterator[str]:
    pos = 0
    while True:
        match = _TOKEN.match(text, pos)
        if not match:
            if text[pos:].strip():
                raise ValueError(f"unreadable node tree at {pos}")
            return
        pos = match.end()
        yield match.group(1)


def parse_node_tree(text: str) -> Any:
    """Read node text (``nodeToString``'s format) into Node dicts, lists and strings. Iterative: a deeply
    nested tree must not exhaust the Python stack."""
    tokens = list(_tokens(text))
    pos = 0
    root: list[Any] = []
    # Each frame: (container, key) where container is a Node (key: the field being read) or a list.
    stack: list[tuple[Any, str | None]] = [(root, None)]

    def put(value: Any) -> None:
        container, key = stack[-1]
        if isinstance(container, Node):
            container[key] = value
            stack[-1] = (container, None)
        else:
            container.append(value)

    while True:
        container, key = stack[-1]
        if isinstance(container, Node) and key is None:
            tok = tokens[pos]
            if tok == "}":
                pos += 1
                stack.pop()
                put(container)
                continue
            if not tok.startswith(":"):
                raise ValueError(f"expected a field name, found {tok[:40]!r}")
            pos += 1
            if tok == ":constvalue" and tokens[pos] != "<>":
                # "<length> [ b0 b1 ... ]": a pass-by-value datum prints all 8 bytes of a Datum, and bytes
                # print as signed chars.
                if tokens[pos + 1] != "[":
                    raise ValueError("a constant's bytes must follow its length")
                end = tokens.index("]", pos + 2)
                container[tok[1:]] = [int(b) & 0xFF for b in tokens[pos + 2 : end]]
                pos = end + 1
                continue
            stack[-1] = (container, tok[1:])
            continue
        if container is root and root:
            if pos != len(tokens):
                raise ValueError("text after the end of the tree")
            return root[0]
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            stack.append((Node(tokens[pos]), None))
            pos += 1
        elif tok == "(":
            stack.append(([], None))
        elif tok == ")":
            if isinstance(container, Node) or container is root:
                raise ValueError("unbalanced )")
            stack.pop()
            put(container)
        elif tok == "<>":
            put(None)
        elif tok in ("}", "[", "]"):
            raise ValueError(f"unexpected {tok!r}")
        else:
            put(tok)


def walk(tree: Any) -> Iterator[Node]:
    """Every node under ``tree``, iteratively."""
    pending = [tree]
    while pending:
        item = pending.pop()
        if isinstance(item, Node):
            yield item
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def oids(value: Any) -> list[int]:
    """OIDs from a field: one number, or a list such as ``(o 23 25)``."""
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return [int(value)] if int(value) > 0 else []
    if isinstance(value, list):
        return [int(v) for v in value if isinstance(v, str) and v.isdigit() and int(v) > 0]
    return []


def bitmap(value: Any) -> list[int]:
    if isinstance(value, list) and value and value[0] == "b":
        return [int(v) for v in value[1:]]
    return []


def const_bytes(node: Any) -> bytes | None:
    if not isinstance(node, Node) or node.name != "CONST" or node.get("constisnull") == "true":
        return None
    raw = node.get("constvalue")
    return bytes(raw) if isinstance(raw, list) else None


def const_text(node: Any) -> str | None:
    """The value of a text-like constant (a varlena with a 4-byte or a 1-byte header), or None."""
    raw = const_bytes(node)
    if raw is None or node.get("constlen") != "-1" or not raw:
        return None
    if raw[0] & 0x01:  # 1-byte header
        return raw[1 : raw[0] >> 1].decode("utf-8", "replace")
    length = int.from_bytes(raw[:4], "little") >> 2
    return raw[4:length].decode("utf-8", "replace")


def const_int(node: Any) -> int | None:
    raw = const_bytes(node)
    kind = node.get("consttype") if raw is not None else None
    if kind in ("20", "21", "23"):
        return int.from_bytes(raw[: int(node.get("constlen", "8"))], "little", signed=True)
    if kind in OBJECT_NAME_TYPES:  # an OID: four unsigned bytes
        return int.from_bytes(raw[:4], "little", signed=False)
    return None
