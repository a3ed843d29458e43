"""Safe selection-criteria expressions: a hand-written tokenizer, recursive-descent parser and
vectorised evaluator. User text is never passed to ``eval``, ``exec``, ``compile`` or ``ast``;
only the grammar below is understood, and anything else is an :class:`InputError` that points
at the offending token and lists the known columns.

Grammar (keywords case-insensitive)::

    expression  := or_expr END
    or_expr     := and_expr (("or" | "||") and_expr)*
    and_expr    := not_expr (("and" | "&&") not_expr)*
    not_expr    := ("not" | "!") not_expr | comparison
    comparison  := operand [ compare_op operand | ["not"] "in" list ]
    compare_op  := "<" | "<=" | ">" | ">=" | "==" | "!="
    operand     := NUMBER | "-" NUMBER | STRING | "true" | "false" | COLUMN | "(" or_expr ")"
    list        := "[" [ literal ("," literal)* [","] ] "]"
    literal     := NUMBER | "-" NUMBER | STRING | "true" | "false"

Types: numbers compare with numeric columns (int or float), strings with string/categorical
columns (``==``, ``!=``, ``in`` only), ``true``/``false`` with boolean columns; a bare
operand used as a condition must be a boolean column (``not metal_implant``) or ``true``/``false``.
Chained comparisons (``60 <= kps <= 90``) are rejected: write ``kps >= 60 and kps <= 90``.

Evaluation returns a numpy boolean mask with one entry per DataFrame row.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.errors import InputError

MAX_EXPRESSION_LENGTH = 2000
MAX_NESTING = 50

_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
_COMPARE_OPS = ("<=", ">=", "==", "!=", "<", ">")
_SYMBOLS = ("<=", ">=", "==", "!=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ",", "-")


# ---------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class Token:
    kind: str  # "number", "string", "name", "keyword", "op", "end"
    text: str  # source text (keywords lower-cased)
    value: Any
    pos: int  # 0-based character offset of the token start
    length: int


class CriteriaError(Exception):
    """Internal: a problem at a position; converted to InputError by the public functions."""

    def __init__(self, pos: int, length: int, message: str) -> None:
        super().__init__(message)
        self.pos, self.length, self.message = pos, max(length, 1), message


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raise CriteriaError at the first character that fits no token."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if _is_digit(c) or (c == "." and i + 1 < n and _is_digit(text[i + 1])):
            j = _scan_number(text, i)
            literal = text[i:j]
            if j < n and (text[j].isalpha() or text[j] == "_" or text[j] == "."):
                raise CriteriaError(i, j - i + 1, f"malformed number {text[i : j + 1]!r}")
            value = float(literal) if any(ch in literal for ch in ".eE") else int(literal)
            tokens.append(Token("number", literal, value, i, j - i))
            i = j
            continue
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if not word.isascii():
                raise CriteriaError(i, j - i, f"name {word!r} contains non-ASCII characters")
            lower = word.lower()
            if lower in _KEYWORDS:
                tokens.append(Token("keyword", lower, lower, i, j - i))
            else:
                tokens.append(Token("name", word, word, i, j - i))
            i = j
            continue
        if c in "'\"":
            j, chars = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n and text[j + 1] in ("\\", c):
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                raise CriteriaError(i, n - i, "unterminated string (missing closing quote)")
            tokens.append(Token("string", text[i : j + 1], "".join(chars), i, j + 1 - i))
            i = j + 1
            continue
        for sym in _SYMBOLS:
            if text.startswith(sym, i):
                tokens.append(Token("op", sym, sym, i, len(sym)))
                i += len(sym)
                break
        else:
            if c == "=":
                _misplaced_equals(text, i, tokens)
            hint = {
                "=": "use '==' to compare",
                ".": "attribute access is not allowed",
                "&": "use 'and' (or '&&')",
                "|": "use 'or' (or '||')",
                "~": "use 'not'",
            }.get(c, "not part of the criteria grammar")
            raise CriteriaError(i, 1, f"unexpected character {c!r}: {hint}")
    tokens.append(Token("end", "", None, n, 1))
    return tokens


def _misplaced_equals(text: str, i: int, tokens: list[Token]) -> None:
    """A lone '=' that extends or reverses a comparison (``>==``, ``===``, ``=>``, ``=<``): name the operator
    that was meant instead of suggesting '==' (which would give ``>===``)."""
    prev = tokens[-1] if tokens else None
    if prev is not None and prev.kind == "op" and prev.text in _COMPARE_OPS and prev.pos + prev.length == i:
        raise CriteriaError(prev.pos, prev.length + 1, f"'{prev.text}=' is not an operator: write '{prev.text}'")
    following = text[i + 1] if i + 1 < len(text) else ""
    if following in "<>" and following:
        raise CriteriaError(i, 2, f"'={following}' is not an operator: write '{following}='")


def _is_digit(c: str) -> bool:
    """ASCII digits only (str.isdigit also accepts superscripts and other scripts' digits)."""
    return "0" <= c <= "9"


def _scan_number(text: str, i: int) -> int:
    n = len(text)
    j = i
    while j < n and _is_digit(text[j]):
        j += 1
    if j < n and text[j] == ".":
        j += 1
        while j < n and _is_digit(text[j]):
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and _is_digit(text[k]):
            while k < n and _is_digit(text[k]):
                k += 1
            j = k
    return j


# ---------------------------------------------------------------------------- syntax tree
@dataclass(frozen=True)
class Literal:
    value: Any  # int | float | str | bool
    pos: int
    length: int


@dataclass(frozen=True)
class Column:
    name: str
    pos: int
    length: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any
    pos: int
    length: int


@dataclass(frozen=True)
class Membership:
    operand: Any
    values: tuple[Literal, ...]
    negated: bool
    pos: int
    length: int


@dataclass(frozen=True)
class Not:
    operand: Any
    pos: int
    length: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Any, ...]
    pos: int
    length: int


Node = Literal | Column | Compare | Membership | Not | BoolOp


class _Parser:
    def __init__(self, tokens: list[Token], columns: Sequence[str]) -> None:
        self.tokens, self.i, self.columns, self.depth = tokens, 0, set(columns), 0
        self.column_list = list(columns)

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at(self, *texts: str) -> bool:
        t = self.tok
        return t.kind in ("op", "keyword") and t.text in texts

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise CriteriaError(0, 1, "empty expression")
        node = self.or_expr()
        if self.tok.kind != "end":
            t = self.tok
            if t.text == "(":
                msg = "unexpected '(': function calls are not allowed"
            elif t.text in _COMPARE_OPS:
                msg = f"unexpected {t.text!r}: chained comparisons are not supported, join them with 'and'"
            else:
                msg = f"unexpected {_describe(t)}: expected 'and', 'or' or the end of the expression"
            raise CriteriaError(t.pos, t.length, msg)
        return node

    def or_expr(self) -> Node:
        first = self.and_expr()
        items = [first]
        while self.at("or", "||"):
            self.advance()
            items.append(self.and_expr())
        return first if len(items) == 1 else BoolOp("or", tuple(items), first.pos, _span(first, items[-1]))

    def and_expr(self) -> Node:
        first = self.not_expr()
        items = [first]
        while self.at("and", "&&"):
            self.advance()
            items.append(self.not_expr())
        return first if len(items) == 1 else BoolOp("and", tuple(items), first.pos, _span(first, items[-1]))

    def not_expr(self) -> Node:
        if self.at("not", "!"):
            t = self.advance()
            self._enter(t)
            operand = self.not_expr()
            self.depth -= 1
            return Not(operand, t.pos, operand.pos + operand.length - t.pos)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        if self.tok.kind == "op" and self.tok.text in _COMPARE_OPS:
            op = self.advance().text
            right = self.operand()
            return Compare(op, left, right, left.pos, _span(left, right))
        negated = False
        if self.at("not"):  # after an operand, 'not' can only start 'not in'
            self.advance()
            negated = True
            if not self.at("in"):
                raise CriteriaError(self.tok.pos, self.tok.length, "expected 'in' after 'not'")
        if self.at("in"):
            self.advance()
            values, end = self.list_literal()
            return Membership(left, values, negated, left.pos, end - left.pos)
        return left

    def operand(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.text == "(":
            self.advance()
            self._enter(t)
            inner = self.or_expr()
            self.depth -= 1
            if not self.at(")"):
                raise CriteriaError(
                    self.tok.pos,
                    self.tok.length,
                    f"expected ')' to close the '(' at position {t.pos}, found {_describe(self.tok)}",
                )
            close = self.advance()
            return _with_span(inner, t.pos, close.pos + 1 - t.pos)
        if t.kind == "name":
            self.advance()
            if t.text not in self.columns and self.at("("):
                msg = f"{t.text!r} is not a column, and function calls are not allowed"
                raise CriteriaError(t.pos, t.length, msg)
            if t.text not in self.columns:
                close = difflib.get_close_matches(t.text, self.column_list, n=3)
                hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
                raise CriteriaError(t.pos, t.length, f"unknown column {t.text!r}{hint}")
            if self.at("("):
                raise CriteriaError(self.tok.pos, 1, "unexpected '(': function calls are not allowed")
            return Column(t.text, t.pos, t.length)
        return self.literal()

    def literal(self) -> Literal:
        t = self.tok
        if t.kind == "number":
            self.advance()
            return Literal(t.value, t.pos, t.length)
        if t.kind == "op" and t.text == "-":
            self.advance()
            num = self.tok
            if num.kind != "number":
                raise CriteriaError(num.pos, num.length, "'-' must be followed by a number (no arithmetic)")
            self.advance()
            return Literal(-num.value, t.pos, num.pos + num.length - t.pos)
        if t.kind == "string":
            self.advance()
            return Literal(t.value, t.pos, t.length)
        if t.kind == "keyword" and t.text in ("true", "false"):
            self.advance()
            return Literal(t.text == "true", t.pos, t.length)
        if t.kind == "end":
            raise CriteriaError(t.pos, 1, "expression ends too early: expected a column, number, string or '('")
        raise CriteriaError(t.pos, t.length, f"unexpected {_describe(t)}: expected a column, number, string or '('")

    def list_literal(self) -> tuple[tuple[Literal, ...], int]:
        t = self.tok
        if not self.at("["):
            raise CriteriaError(t.pos, t.length, f"expected '[' after 'in', found {_describe(t)}")
        self.advance()
        values: list[Literal] = []
        while not self.at("]"):
            values.append(self.literal())
            if self.at(","):
                self.advance()
            elif not self.at("]"):
                raise CriteriaError(self.tok.pos, self.tok.length, f"expected ',' or ']', found {_describe(self.tok)}")
        end = self.advance()
        return tuple(values), end.pos + 1

    def _enter(self, t: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise CriteriaError(t.pos, t.length, f"nesting deeper than {MAX_NESTING} levels")


def _describe(t: Token) -> str:
    return "end of expression" if t.kind == "end" else f"{t.kind} {t.text!r}"


def _span(first: Node, last: Node) -> int:
    return last.pos + last.length - first.pos


def _with_span(node: Node, pos: int, length: int) -> Node:
    return type(node)(**{**node.__dict__, "pos": pos, "length": length})


# ---------------------------------------------------------------------------- evaluation
def _column_kind(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return "string"


def _literal_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


class _Evaluator:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.n = len(frame)

    def kind(self, node: Node) -> str:
        if isinstance(node, Literal):
            return _literal_kind(node.value)
        if isinstance(node, Column):
            return _column_kind(self.frame[node.name].dtype)
        return "bool"

    def values(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Column):
            series = self.frame[node.name]
            return series if self.kind(node) == "string" else series.to_numpy()
        return self.mask(node)

    def mask(self, node: Node) -> np.ndarray:
        if isinstance(node, BoolOp):
            masks = [self.mask(o) for o in node.operands]
            fn = np.logical_and if node.op == "and" else np.logical_or
            return fn.reduce(masks) if len(masks) > 1 else masks[0]
        if isinstance(node, Not):
            return ~self.mask(node.operand)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Membership):
            return self.membership(node)
        kind = self.kind(node)
        if kind != "bool":
            what = f"column {node.name!r} ({kind})" if isinstance(node, Column) else f"{kind} literal"
            raise CriteriaError(
                node.pos,
                node.length,
                f"{what} is not a condition; compare it, e.g. '{getattr(node, 'name', 'x')} >= ...' or '... == ...'",
            )
        if isinstance(node, Literal):
            return np.full(self.n, bool(node.value))
        return self.frame[node.name].to_numpy(dtype=bool)

    def compare(self, node: Compare) -> np.ndarray:
        lk, rk = self.kind(node.left), self.kind(node.right)
        if lk != rk:
            raise CriteriaError(
                node.pos,
                node.length,
                f"cannot compare {lk} with {rk} ({_show(node.left)} {node.op} {_show(node.right)})",
            )
        if lk in ("string", "bool") and node.op not in ("==", "!="):
            raise CriteriaError(
                node.pos,
                node.length,
                f"operator {node.op!r} is not defined for {lk} values; use '==', '!=' or 'in'",
            )
        for side in (node.left, node.right):
            if isinstance(side, Literal) and lk == "string":
                other = node.right if side is node.left else node.left
                self._check_level(other, side)
        left, right = self.values(node.left), self.values(node.right)
        if lk == "string":
            left = left.astype(object) if isinstance(left, pd.Series) else left
            right = right.astype(object) if isinstance(right, pd.Series) else right
        result = {
            "<": np.less,
            "<=": np.less_equal,
            ">": np.greater,
            ">=": np.greater_equal,
            "==": np.equal,
            "!=": np.not_equal,
        }[node.op](left, right)
        result = np.asarray(result, dtype=bool)
        return np.broadcast_to(result, (self.n,)).copy() if result.ndim == 0 else result

    def membership(self, node: Membership) -> np.ndarray:
        kind = self.kind(node.operand)
        for v in node.values:
            vk = _literal_kind(v.value)
            if vk != kind:
                raise CriteriaError(
                    v.pos, v.length, f"list item {v.value!r} is {vk} but {_show(node.operand)} is {kind}"
                )
            if kind == "string":
                self._check_level(node.operand, v)
        if isinstance(node.operand, Literal):
            hit = node.operand.value in [v.value for v in node.values]
            result = np.full(self.n, hit)
        elif kind == "bool" and not isinstance(node.operand, Column):
            m = self.mask(node.operand)
            wanted = {bool(v.value) for v in node.values}
            result = np.isin(m, list(wanted)) if wanted else np.zeros(self.n, dtype=bool)
        else:
            series = self.frame[node.operand.name]
            result = series.isin([v.value for v in node.values]).to_numpy(dtype=bool)
        return ~result if node.negated else result

    def _check_level(self, column: Node, literal: Literal) -> None:
        if isinstance(column, Column):
            dtype = self.frame[column.name].dtype
            if isinstance(dtype, pd.CategoricalDtype) and literal.value not in set(dtype.categories):
                raise CriteriaError(
                    literal.pos,
                    literal.length,
                    f"{literal.value!r} is not a level of {column.name!r}; levels: {list(dtype.categories)}",
                )


def _show(node: Node) -> str:
    if isinstance(node, Column):
        return node.name
    if isinstance(node, Literal):
        return repr(node.value)
    return "(condition)"


# ---------------------------------------------------------------------------- public API
def _input_error(field: str, expression: str, err: CriteriaError, columns: Sequence[str]) -> InputError:
    caret = " " * err.pos + "^" * min(err.length, max(1, len(expression) - err.pos))
    message = f"{err.message} at position {err.pos}\n    {expression}\n    {caret}\nknown columns: {', '.join(columns)}"
    return InputError(field, expression, message)


def _iterable(value: object, field: str) -> list:
    try:
        return list(value)  # type: ignore[call-overload]
    except TypeError:
        raise InputError(field, value, "expected a sequence") from None


def parse_criterion(expression: str, columns: Sequence[str], field: str = "criteria") -> Node:
    """Parse ``expression`` against the known ``columns``; return its syntax tree.

    Raises :class:`InputError` (``field``, expression) pointing at the offending token.
    """
    if isinstance(columns, str) or not all(isinstance(c, str) for c in _iterable(columns, "columns")):
        raise InputError("columns", columns, "the column names, a sequence of strings")
    columns = list(columns)
    if not isinstance(expression, str):
        raise InputError(field, expression, "a criterion must be a string expression")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InputError(field, expression, f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        return _Parser(tokenize(expression), columns).parse()
    except CriteriaError as err:
        raise _input_error(field, expression, err, columns) from None


def evaluate_criterion(frame: pd.DataFrame, expression: str, field: str = "criteria") -> np.ndarray:
    """Boolean mask (numpy, one entry per row of ``frame``) of the rows satisfying ``expression``."""
    columns = [str(c) for c in frame.columns]
    tree = parse_criterion(expression, columns, field)
    try:
        return _Evaluator(frame).mask(tree)
    except CriteriaError as err:
        raise _input_error(field, expression, err, columns) from None


def referenced_columns(expression: str, columns: Sequence[str]) -> list[str]:
    """Columns an expression reads (in order of first use)."""
    tree = parse_criterion(expression, columns)
    seen: list[str] = []

    def walk(node: Node) -> None:
        if isinstance(node, Column) and node.name not in seen:
            seen.append(node.name)
        for child in _children(node):
            walk(child)

    walk(tree)
    return seen


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, BoolOp):
        return node.operands
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, Membership):
        return (node.operand,)
    return ()


__all__ = [
    "evaluate_criterion",
    "parse_criterion",
    "referenced_columns",
    "tokenize",
]
