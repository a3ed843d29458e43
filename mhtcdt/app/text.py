"""Text shown through Streamlit's Markdown: every character Markdown (or Streamlit's extensions: colour
directives, emoji short codes, LaTeX between dollars) would interpret is escaped, so scenario and arm names
appear exactly as typed and cannot format, link or inject anything."""

from __future__ import annotations

_SPECIAL = set("\\`*_{}[]()#+-.!|<>:$~&\"'=")


def md(text: object) -> str:
    """``text`` as literal Markdown (backslash before every special character; newlines kept as spaces)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in str(text).replace("\n", " "))


def metric_delta(value: float, text: str) -> str:
    """A metric's delta text that Streamlit colours and points by ``value``'s sign: it reads the sign from a
    leading ASCII ``-`` (a typographic minus would show a green up-arrow next to a negative number)."""
    return ("-" if value < 0 else "+") + text.lstrip("−+-")
