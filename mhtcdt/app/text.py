"""User text in Streamlit elements: shown as the characters typed, never as markup.

Streamlit renders Markdown (and its own extensions: ``:red[...]`` colours, ``:material/...:`` icons,
``$...$`` LaTeX, emoji shortcodes) in ``st.markdown``, captions, alerts, titles, tabs, metric and widget
labels, help tooltips, progress texts and toasts. Scenario names, descriptions, arm names, criteria,
file names and error texts come from users (an uploaded file is written by anyone), so every such
string goes through :func:`md` (or :func:`code_span` inside inline code) before it is put into one of
those elements. ``unsafe_allow_html`` is never used with user text (the app does not use it at all; a
test greps for it). Tables (``st.dataframe``), ``st.code``, ``st.text`` and select-box options show
plain text and need no escaping.
"""

from __future__ import annotations

import re

# CommonMark lets a backslash escape any ASCII punctuation character; escaping all of them turns off
# every Markdown construct (emphasis, links, images, headings, lists, tables, code, raw HTML, entities)
# and Streamlit's extensions (directives after ':', LaTeX between '$').
_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible_controls(text: str) -> str:
    """Control characters (except newline and tab) as ``\\xNN`` escapes: nothing invisible reaches the page."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def md(text: object) -> str:
    """``text`` escaped for any Streamlit element that renders Markdown: it shows literally.

    Newlines stay line breaks (two trailing spaces), so a multi-line description keeps its lines
    without any line starting a Markdown block.
    """
    escaped = _PUNCTUATION.sub(r"\\\1", _visible_controls(str(text)))
    return "  \n".join(escaped.splitlines()) if "\n" in escaped else escaped


def code_span(text: object) -> str:
    """``text`` as inline code: the fence is longer than any run of backticks inside, so it cannot be
    closed early (CommonMark section 6.1); newlines become spaces (inline code is one line)."""
    body = _visible_controls(str(text)).replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {body} {fence}"


def code_block(text: object) -> str:
    """``text`` as a fenced code block whose fence no line inside can close."""
    body = _visible_controls(str(text))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{body}\n{fence}"


def metric_delta(value: float, text: str) -> str:
    """A metric's delta text that Streamlit colours and points by ``value``'s sign: it reads the sign from a
    leading ASCII ``-`` (a typographic minus would show a green up-arrow next to a negative number)."""
    return ("-" if value < 0 else "+") + text.lstrip("−+-")
