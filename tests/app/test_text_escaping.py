"""User text in the app is shown literally: :mod:`mhtcdt.app.text` checked against a CommonMark parser.

The oracle is markdown-it-py (a CommonMark implementation, the dialect Streamlit's renderer follows):
whatever a user writes, the escaped text renders to no element at all and reads back as the original.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mhtcdt.app.text import code_block, code_span, md
from tests.app import hostile

markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py (dev extra) is the CommonMark oracle")
PARSER = markdown_it.MarkdownIt("commonmark")
APP = Path(__file__).resolve().parents[2] / "mhtcdt" / "app"


def _inline(markdown: str) -> str:
    return PARSER.renderInline(markdown)


@pytest.mark.parametrize("payload", hostile.PAYLOADS)
def test_payloads_render_as_their_own_text(payload):
    rendered = _inline(md(payload))
    assert "<" not in rendered  # no element: every '<' of the payload is the entity &lt;
    assert html.unescape(rendered) == payload


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=60))
def test_any_single_line_renders_literally(text):
    rendered = _inline(md(text))
    assert "<" not in rendered
    assert html.unescape(rendered) == text


def test_lines_stay_lines_and_never_start_a_block():
    text = "# not a heading\n- not a list\n> not a quote\n```\n1. not a list"
    rendered = PARSER.render(md(text))
    assert rendered.count("<br />") == 4
    assert not re.search(r"<(h\d|ul|ol|blockquote|pre|code)", rendered)
    assert html.unescape(re.sub(r"<br />\n|</?p>\n?", "\n", rendered)).strip().splitlines() == text.splitlines()


def test_control_characters_are_shown_as_escapes():
    assert md("bell\x07 esc\x1b[31m nul\x00") == r"bell\\x07 esc\\x1b\[31m nul\\x00"
    assert "\x1b" not in code_span("\x1b[2J") and "\x00" not in code_block("a\x00")


@pytest.mark.parametrize("text", ["plain", "one ` tick", "``double`` and ` single", "<b>", "ends with `"])
def test_code_span_cannot_be_closed_early(text):
    rendered = _inline(code_span(text))
    assert rendered.startswith("<code>") and rendered.endswith("</code>") and rendered.count("<code>") == 1
    assert html.unescape(rendered[len("<code>") : -len("</code>")]) == text


def test_code_block_cannot_be_closed_early():
    text = "line one\n```\n<script>x</script>\n````"
    rendered = PARSER.render(code_block(text))
    assert rendered.count("<pre>") == 1 and html.unescape(rendered) == f"<pre><code>{text}\n</code></pre>\n"


#: The one ``st.html`` call allowed: the router's fixed script that closes the sidebar on phones after a page
#: change. Its only argument is a module constant checked below to be a plain string literal (no user text).
ALLOWED_HTML = {"router.py": "st.html(_CLOSE_SIDEBAR_ON_PHONES, unsafe_allow_javascript=True)"}


def test_the_app_never_renders_raw_html():
    """No page asks Streamlit to render HTML (``unsafe_allow_html``, ``st.html``, components) and none
    writes text through ``st.write`` (Markdown) instead of an escaped element; the one exception is a fixed
    script (:data:`ALLOWED_HTML`) whose text is a literal, not built from anything."""
    offenders = []
    for path in sorted(APP.glob("*.py")):
        if path.name == "text.py":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if ALLOWED_HTML.get(path.name) == line.strip():
                continue
            if re.search(r"unsafe_allow_html|st\.html\(|components\.v1|st\.write\(", line):
                offenders.append(f"{path.name}:{i}: {line.strip()}")
    assert not offenders, offenders


def test_the_allowed_html_is_a_fixed_literal():
    import ast

    tree = ast.parse((APP / "router.py").read_text(encoding="utf-8"))
    name = "_CLOSE_SIDEBAR_ON_PHONES"
    assigned = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets)
    ]
    assert len(assigned) == 1
    assert isinstance(assigned[0], ast.Constant) and isinstance(assigned[0].value, str)  # not an f-string
