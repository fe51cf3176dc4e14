"""Vendor text is data: one rule for links, one escaping rule per kind of output (terminal, Markdown,
JSON), each shown to keep hostile text as the text it is."""

from __future__ import annotations

import json

import pytest

from cityindex_pipeline.cli import main as cli
from cityindex_pipeline.cli.runner import failure_lines
from cityindex_pipeline.core.render import (
    json_text,
    link_url,
    markdown_table,
    markdown_text,
    terminal_text,
    visible,
)

HOSTILE = [
    "javascript:alert(1)",
    "<script>alert(1)</script>",
    "</script><script>alert(2)</script>",
    "{{ 7*7 }}",
    "[/]",
    "[bold red]loud[/bold red]",
    ":thumbs_up: :smile:",
    "a | b",
    "two\nlines\r\nand more",
    "\x1b]0;title\x07",
    "\x1b[2J\x1b[31mred",
    "\x9b31m C1 CSI",
    "abc\u202edcba",
    "para\u2029graph",
    "[x](javascript:alert(1))",
    "`code` *em* _u_ # h",
]
KEPT = ["西安 Xi'an", "Ürümqi", "café 😀", "#tag @user 50% & more"]


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://www.facebook.com/123/posts/456", True),
        ("HTTPS://example.com/a?b=c#d", True),
        ("https://xn--fiqs8s.cn/路径", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("http://example.com/", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//example.com/", False),
        ("https:/example.com", False),
        ("https:example.com", False),
        ("https://", False),
        ("https:///path", False),
        (" https://example.com", False),
        ("https://example.com/\njavascript:alert(1)", False),
        ("https://example.com/\x1b[31m", False),
        ("https://exa mple.com", False),
        ("https:\\\\example.com", False),
        ("https://[::1", False),
        ("", False),
        (None, False),
        (42, False),
    ],
)
def test_only_an_https_url_with_a_host_becomes_a_link(url, linked):
    assert link_url(url) == (url if linked else None)


@pytest.mark.parametrize("text", HOSTILE + KEPT)
def test_visible_text_has_no_character_that_acts(text):
    shown = visible(text)
    assert "\x1b" not in shown and "\x9b" not in shown and "\u202e" not in shown and "\n" not in shown


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_shows_as_it_is_everywhere(text):
    assert visible(text) == text
    with cli.console.capture() as captured:
        cli._print_text(text)
    assert captured.get() == text + "\n"


@pytest.mark.parametrize("text", HOSTILE)
def test_the_cli_prints_hostile_text_as_text(text):
    """Through the CLI's own console: no markup interpreted (no `MarkupError`), no emoji, no raw escape."""
    with cli.console.capture() as captured:
        cli._print_text(text)
        cli.console.print(f"[bold]{terminal_text(text)}[/]")
    out = captured.get()
    assert out == visible(text) + "\n" + visible(text) + "\n"
    assert "\x1b" not in out and "\x9b" not in out


def test_a_failing_checks_rows_print_as_text_in_the_progress_lines():
    """What the run prints under a failed check: its detail, fix and sample rows, hostile ones too."""
    metadata = {
        "failed_rows": 2,
        "detail": "2 failing [bold]",
        "fix": "re-deliver [/] \x1b]0;pwned\x07",
        "sample": [
            {"account_handle": "[bold red]x", "permalink": "javascript:alert(1)", "text": "\x9b2J\n|"}
        ],
    }
    with cli.console.capture() as captured:
        for line in failure_lines(metadata):
            cli._print_text(f"        {line}")
    out = captured.get()
    assert "2 failing [bold]" in out and "re-deliver [/] \\x1b]0;pwned\\x07" in out
    assert "[bold red]x" in out and "javascript:alert(1)" in out
    assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out


def test_a_markdown_table_keeps_its_shape_and_makes_no_link():
    import polars as pl

    frame = pl.DataFrame({"city": HOSTILE, "score": [float(n) for n in range(len(HOSTILE))]})
    table = markdown_table(frame)
    lines = table.split("\n")
    assert len(lines) == len(HOSTILE) + 2, "a newline in a cell does not add a row"

    def cells(line: str) -> int:
        return len(line.replace("\\|", "").split("|"))

    assert {cells(line) for line in lines} == {cells(lines[0])}, "a | in a cell does not add a column"
    assert "](" not in table.replace("\\]\\(", ""), "no Markdown link survives"
    assert "<script>" not in table and "\x1b" not in table
    assert markdown_text("[x](javascript:alert(1))") == "\\[x\\]\\(javascript:alert\\(1\\)\\)"


def test_json_for_the_terminal_is_valid_and_escapes_what_json_leaves_raw():
    value = {"posts": [{"text": text} for text in HOSTILE], "all": HOSTILE + KEPT}
    printed = json_text(value)
    assert json.loads(printed) == value
    assert not any(c in printed for c in "\x1b\x9b\u202e\u2029\x07")
    assert "西安" in printed, "readable text stays readable"


def test_html_values_are_visible_but_keep_their_white_space_and_leave_safe_markup_alone():
    from markupsafe import Markup

    from cityindex_pipeline.core.render import html_text

    assert html_text("two\nlines\t\x1b]0;t\x07 \u202e") == "two\nlines\t\\x1b]0;t\\x07 \\u202e"
    svg = Markup("<svg>\n<text>\x1b</text></svg>")
    assert html_text(svg) is svg and html_text(3) == 3


def test_the_files_a_pull_did_not_use_print_as_text_in_the_progress_lines():
    from cityindex_pipeline.cli.runner import problem_lines

    metadata = {
        "problems": 4,
        "problem_files": [
            {"location": "landing://facebook/2024-09/A/posts\\x1b]0;t\\x07.json", "reason": "not a file [/]"},
            {"location": "landing://facebook/2024-09/Evil[bold red]", "reason": "a folder whose name…"},
        ],
    }
    with cli.console.capture() as captured:
        for line in problem_lines("raw_facebook", metadata):
            cli._print_text(f"  {line}")
    out = captured.get()
    assert out.splitlines() == [
        "  ! raw_facebook: 4 file(s) or response(s) not used, each kept in raw.source_problems:",
        "      landing://facebook/2024-09/A/posts\\x1b]0;t\\x07.json: not a file [/]",
        "      landing://facebook/2024-09/Evil[bold red]: a folder whose name…",
        "      … and 1 more (problem_files in raw_facebook's metadata)",
    ]
    assert problem_lines("raw_x", {"problems": 0}) == []
