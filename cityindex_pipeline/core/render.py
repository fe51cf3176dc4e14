"""Small text renderings shared by metadata, the CLI and reports.

Text that came from a vendor (post texts, permalinks, file and account names, raters) is data: it
is shown as the characters it holds and never acts as markup. One rule per kind of output:

- everywhere: `visible` escapes characters that would act instead of showing (terminal control
  sequences, bidirectional overrides, line separators, undecodable bytes);
- the terminal (`rich`): `terminal_text`, also escaping rich's `[markup]`;
- Markdown (Dagster metadata): `markdown_text`, also escaping Markdown's own characters, so a `|` or
  a newline cannot reshape a table and `[x](javascript:...)` cannot become a link;
- JSON printed for a reader: `json_text`;
- HTML (the report): `html_text` on every value, then Jinja's autoescaping; `link_url` decides
  what may be a link.

`link_url` is the one rule for links: only an `https://` URL with a host becomes a link; anything
else (`javascript:`, `data:`, `http:`, no host, spaces or control characters) is shown as text.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import polars as pl

_ACTING_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
"""Controls (C0, DEL, C1: ESC and CSI start terminal sequences), lone surrogates (bytes that were
not UTF-8, which cannot even be encoded), and the line and paragraph separators."""
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Format characters that reorder what follows them on the screen (Trojan Source)."""
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&])")


def escape_char(char: str) -> str:
    """`\\x1b`, `\\u202e`, `\\U0001f600`; a byte that was not UTF-8 (a surrogate escape) as `\\xff`."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def acts(char: str) -> bool:
    """Whether a character would act on the display (or fail to encode) instead of showing."""
    return unicodedata.category(char) in _ACTING_CATEGORIES or char in _BIDI_CONTROLS


def visible(text: object, keep: str = "") -> str:
    """The text with every character that would act instead of showing written as an escape (but
    those in `keep`)."""
    value = str(text)
    if value.isprintable():  # the common case: nothing to escape (printable excludes all of `acts`)
        return value
    return "".join(escape_char(c) if acts(c) and c not in keep else c for c in value)


def html_text(value: object) -> object:
    """A value for the report's HTML template (its `finalize`: Jinja then escapes `<`, `&`, quotes):
    visible, where line breaks and tabs are only white space; markup the template marks safe (the
    inlined SVG) is left as it is."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return visible(value, keep="\n\r\t")
    return value


def terminal_text(text: object) -> str:
    """Text to hand to the CLI's rich console: visible, and with rich markup (`[bold]`, `[/]`) escaped,
    so it prints as itself and cannot raise `MarkupError`."""
    from rich.markup import escape

    return escape(visible(text))


def markdown_text(value: object, float_digits: int = 2) -> str:
    """Text for Markdown (a table's cell, a line of a paragraph): visible, on one line, Markdown's own
    characters escaped, so it shows as written and cannot reshape a table or make a link."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{float_digits}f}"
    one_line = " ".join(str(value).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", visible(one_line))


def markdown_table(frame: pl.DataFrame, float_digits: int = 2) -> str:
    """A GitHub-style Markdown table, for Dagster metadata and reports (no pandas needed)."""
    header = "| " + " | ".join(markdown_text(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = [
        "| " + " | ".join(markdown_text(v, float_digits) for v in row) + " |" for row in frame.iter_rows()
    ]
    return "\n".join([header, rule, *rows])


def json_text(value: Any) -> str:
    """JSON for a reader's terminal: what `json.dumps` leaves raw (C1 controls, bidirectional and line
    separator characters) is written as `\\u` escapes too, so the document stays valid JSON."""
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return "".join(f"\\u{ord(c):04x}" if c != "\n" and acts(c) else c for c in text)


def link_url(value: object) -> str | None:
    """The URL if it may be rendered as a link: `https://` with a host, no whitespace or control
    characters. Anything else is kept as data and shown as text, never as a link."""
    if not isinstance(value, str) or not value.isprintable() or any(c.isspace() or c == "\\" for c in value):
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # an invalid IPv6 host, a bad port
        return None
    if parts.scheme.lower() != "https" or not host or not value.lower().startswith("https://"):
        return None
    return value
