"""Safe criteria grammar: correctness against independent oracles, errors, and no code execution.

Oracles: a numpy evaluation of a randomly generated syntax tree (built independently of the
parser), and pandas ``DataFrame.query`` (pandas' own expression engine, used here in the test only)
on the same random expressions.
"""

from __future__ import annotations

import builtins
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mhtcdt.cohorts import evaluate_criterion, parse_criterion, referenced_columns
from mhtcdt.cohorts.criteria import tokenize
from mhtcdt.errors import InputError

_rng = np.random.default_rng(12345)
N = 300
FRAME = pd.DataFrame(
    {
        "kps": _rng.choice(np.arange(10, 101, 10), N).astype(np.int64),
        "vol": np.round(_rng.lognormal(3.0, 0.9, N), 1),
        "flag": _rng.random(N) < 0.3,
        "other_flag": _rng.random(N) < 0.6,
        "sex": pd.Categorical(_rng.choice(["female", "male"], N), categories=["female", "male"]),
        "tissue": _rng.choice(["brain", "prostate"], N).astype(object),
    }
)
COLUMNS = list(FRAME.columns)

# ----------------------------------------------------------------------------- random expression trees
# A tree is (kind, payload); render() gives (our_text, pandas_text, precedence); expected() the numpy mask.
OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}

numbers = st.one_of(
    st.integers(-5, 120).map(lambda v: v - v % 10 if v % 3 else v),
    st.floats(0, 150).map(lambda f: round(f, 2)),
)


def leaf(allow_bool_literals: bool):
    comparisons = st.builds(
        lambda col, op, value, flipped: ("cmp", (col, op, value, flipped)),
        st.sampled_from(["kps", "vol"]),
        st.sampled_from(list(OPS)),
        numbers,
        st.booleans(),
    )
    strings = st.builds(
        lambda col, op, value: ("cmp", (col, op, value, False)),
        st.just("sex"),
        st.sampled_from(["==", "!="]),
        st.sampled_from(["female", "male"]),
    ) | st.builds(
        lambda op, value: ("cmp", ("tissue", op, value, False)),
        st.sampled_from(["==", "!="]),
        st.sampled_from(["brain", "prostate", "liver"]),
    )
    bools = st.sampled_from([("col", "flag"), ("col", "other_flag")])
    member = st.builds(
        lambda col, values, neg: ("in", (col, values, neg)),
        st.just("kps"),
        st.lists(st.sampled_from([10, 20, 50, 60, 70, 80, 90, 100, 110]), max_size=4),
        st.booleans(),
    ) | st.builds(
        lambda values, neg: ("in", ("sex", values, neg)),
        st.lists(st.sampled_from(["female", "male"]), min_size=1, max_size=2),
        st.booleans(),
    )
    options = [comparisons, strings, bools, member]
    if allow_bool_literals:
        options.append(st.sampled_from([("lit", True), ("lit", False)]))
    return st.one_of(*options)


def trees(allow_bool_literals: bool = True):
    return st.recursive(
        leaf(allow_bool_literals),
        lambda children: st.one_of(
            st.builds(lambda c: ("not", c), children),
            st.builds(lambda a, b: ("and", (a, b)), children, children),
            st.builds(lambda a, b: ("or", (a, b)), children, children),
        ),
        max_leaves=8,
    )


def expected(tree) -> np.ndarray:
    kind, p = tree
    if kind == "cmp":
        col, op, value, _ = p
        values = FRAME[col].astype(object).to_numpy() if col in ("sex", "tissue") else FRAME[col].to_numpy()
        return np.asarray(OPS[op](values, value), dtype=bool)
    if kind == "col":
        return FRAME[p].to_numpy()
    if kind == "lit":
        return np.full(N, p)
    if kind == "in":
        col, values, neg = p
        hit = FRAME[col].astype(object).isin(values).to_numpy()
        return ~hit if neg else hit
    if kind == "not":
        return ~expected(p)
    a, b = p
    return (expected(a) & expected(b)) if kind == "and" else (expected(a) | expected(b))


PREC = {"or": 1, "and": 2, "not": 3, "atom": 4}


def render(tree, variant: int) -> tuple[str, str, int]:
    """(our text, pandas text, precedence) with the fewest parentheses the precedence rules allow."""
    kind, p = tree
    if kind == "cmp":
        col, op, value, flipped = p
        lit = f'"{value}"' if isinstance(value, str) else repr(value)
        text = f"{lit} {FLIP[op]} {col}" if flipped else f"{col} {op} {lit}"
        return text, text, PREC["atom"]
    if kind == "col":
        return p, p, PREC["atom"]
    if kind == "lit":
        return ("true" if p else "FALSE"), str(p), PREC["atom"]
    if kind == "in":
        col, values, neg = p
        items = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)
        text = f"{col} {'not in' if neg else 'in'} [{items}]"
        return text, text, PREC["atom"]
    if kind == "not":
        ours, theirs, prec = render(p, variant)
        if prec < PREC["not"]:
            ours, theirs = f"({ours})", f"({theirs})"
        word = "!" if variant % 3 == 1 else ("NOT " if variant % 3 == 2 else "not ")
        return f"{word}{ours}", f"not {theirs}", PREC["not"]
    word = {"and": ["and", "&&", "AND"], "or": ["or", "||", "Or"]}[kind][variant % 3]
    parts = []
    for child in p:
        ours, theirs, prec = render(child, variant + 1)
        if prec <= PREC[kind] and not (prec == PREC[kind] and child is p[0]):
            ours, theirs = f"({ours})", f"({theirs})"
        parts.append((ours, theirs))
    return (
        f"{parts[0][0]} {word} {parts[1][0]}",
        f"{parts[0][1]} {kind} {parts[1][1]}",
        PREC[kind],
    )


def _no_dynamic_code(*_args, **_kwargs):
    raise AssertionError("the criteria evaluator must not execute dynamic code")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees(), variant=st.integers(0, 5))
def test_random_expressions_match_numpy_oracle(tree, variant) -> None:
    text, _, _ = render(tree, variant)
    with (
        mock.patch.object(builtins, "eval", _no_dynamic_code),
        mock.patch.object(builtins, "exec", _no_dynamic_code),
    ):
        mask = evaluate_criterion(FRAME, text)
    assert mask.dtype == bool and mask.shape == (N,)
    np.testing.assert_array_equal(mask, expected(tree), err_msg=text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees(allow_bool_literals=False), variant=st.integers(0, 5))
def test_random_expressions_match_pandas_query(tree, variant) -> None:
    ours, theirs, _ = render(tree, variant)
    reference = FRAME.query(theirs, engine="python").index
    mask = evaluate_criterion(FRAME, ours)
    assert FRAME.index[mask].equals(reference), (ours, theirs)


FUZZ_TOKENS = [
    "kps", "vol", "flag", "sex", "and", "or", "not", "in", "&&", "||", "!", "(", ")", "[", "]", ",",
    "<", "<=", "==", "!=", ">=", ">", "=", "60", "-3", "1e3", "2.5", '"male"', "'x'", "true", "false",
    "__import__", "os", "'os'", ".", "system", "lambda", ":", "getattr", "__class__", "+", "*", ";", "@",
    "exec", "eval", "import", "if", "else", "{", "}", "\\", "'", '"', "#", "`",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FUZZ_TOKENS), min_size=1, max_size=12), st.sampled_from(["", " "]))
def test_token_soup_parses_or_fails_cleanly(tokens, sep) -> None:
    text = sep.join(tokens)
    with (
        mock.patch.object(builtins, "eval", _no_dynamic_code),
        mock.patch.object(builtins, "exec", _no_dynamic_code),
    ):
        try:
            mask = evaluate_criterion(FRAME, text, field="criteria[0]")
        except InputError as err:
            assert err.field == "criteria[0]" and err.value == text
            assert "known columns:" in err.message and "at position" in err.message
            return
    assert mask.dtype == bool and mask.shape == (N,)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_fails_cleanly(text) -> None:
    try:
        mask = evaluate_criterion(FRAME, text)
    except InputError as err:
        assert "known columns:" in err.message
        return
    assert mask.dtype == bool and mask.shape == (N,)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo hacked')",
        "kps.__class__",
        "getattr(kps, 'real') > 0",
        "lambda: kps",
        "(lambda x: x)(1)",
        "[x for x in kps]",
        "kps if flag else vol",
        "open('/etc/passwd')",
        "exec('1')",
        "kps + 1 > 2",
        "kps >= 60; import os",
        "sex == 'male' or __builtins__",
        "{'a': 1}",
        "vol ** 2 > 3",
    ],
)
def test_code_injection_is_rejected(text) -> None:
    with (
        mock.patch.object(builtins, "eval", _no_dynamic_code),
        mock.patch.object(builtins, "exec", _no_dynamic_code),
    ):
        with pytest.raises(InputError):
            evaluate_criterion(FRAME, text)


def test_error_points_at_offending_token() -> None:
    text = "kps >= 60 and vol <= )"
    with pytest.raises(InputError) as info:
        evaluate_criterion(FRAME, text, field="criteria[2]")
    err = info.value
    assert err.field == "criteria[2]" and err.value == text
    lines = err.message.splitlines()
    shown, caret = lines[1], lines[2]
    assert shown.strip() == text
    assert caret.index("^") - shown.index("k") == text.index(")")
    assert "known columns: kps, vol, flag, other_flag, sex, tissue" in err.message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("kpz > 1", "unknown column 'kpz' (did you mean 'kps'?)"),
        ("kps = 60", "use '==' to compare"),
        ("60 <= kps <= 90", "chained comparisons"),
        ("kps", "not a condition"),
        ("vol >= 'big'", "cannot compare number with string"),
        ("sex < 'male'", "not defined for string"),
        ("sex == 'Male'", "not a level of 'sex'"),
        ("kps in [10, 'a']", "list item 'a' is string"),
        ("kps in 10", "expected '['"),
        ("(kps > 1", "expected ')'"),
        ("kps > 1)", "unexpected op ')'"),
        ("", "empty expression"),
        ("'unterminated", "unterminated string"),
        ("kps not 5", "expected 'in' after 'not'"),
        ("1.2.3 > kps", "malformed number"),
        ("kps > -flag", "'-' must be followed by a number"),
        ("flag > true", "not defined for bool"),
        ("kps(1)", "function calls are not allowed"),
        ("__import__('os')", "'__import__' is not a column, and function calls are not allowed"),
    ],
)
def test_error_messages(text, fragment) -> None:
    with pytest.raises(InputError) as info:
        evaluate_criterion(FRAME, text)
    assert fragment in info.value.message, info.value.message


def test_grammar_features() -> None:
    f = FRAME
    cases = {
        "kps >= 70 and vol <= 50 and not flag": (f.kps >= 70) & (f.vol <= 50) & ~f.flag,
        "kps >= 70 && vol <= 50 || flag": ((f.kps >= 70) & (f.vol <= 50)) | f.flag,
        "not flag or other_flag and kps > 50": ~f.flag | (f.other_flag & (f.kps > 50)),
        "!(flag || other_flag)": ~(f.flag | f.other_flag),
        "not not flag": f.flag,
        "kps not in [10, 20, 30]": ~f.kps.isin([10, 20, 30]),
        "sex in ['male']": f.sex == "male",
        "flag == true and other_flag != FALSE": f.flag & f.other_flag,
        "vol > -1.5e0": f.vol > -1.5,
        "kps in []": pd.Series(False, index=f.index),
        "kps in [10, 20,]": f.kps.isin([10, 20]),
        "(kps > 50) == flag": (f.kps > 50) == f.flag,
        "kps > vol": f.kps > f.vol,
        'tissue == "it\\"s"': pd.Series(False, index=f.index),
        "TRUE": pd.Series(True, index=f.index),
        ".5 < vol": f.vol > 0.5,
    }
    for text, ref in cases.items():
        np.testing.assert_array_equal(evaluate_criterion(f, text), ref.to_numpy(dtype=bool), err_msg=text)


def test_nesting_limit_and_length_limit() -> None:
    deep = "(" * 60 + "flag" + ")" * 60
    with pytest.raises(InputError, match="nesting deeper"):
        evaluate_criterion(FRAME, deep)
    with pytest.raises(InputError, match="longer than"):
        evaluate_criterion(FRAME, "flag or " * 400 + "flag")


def test_referenced_columns_and_tokens() -> None:
    assert referenced_columns("vol > 1 and (kps < 5 or vol < 2) and not flag", COLUMNS) == [
        "vol",
        "kps",
        "flag",
    ]
    kinds = [t.kind for t in tokenize("kps >= 60 and sex in ['m']")]
    assert kinds == ["name", "op", "number", "keyword", "name", "keyword", "op", "string", "op", "end"]
    tree = parse_criterion("not flag", COLUMNS)
    assert type(tree).__name__ == "Not"


def test_empty_frame_gives_empty_mask() -> None:
    mask = evaluate_criterion(FRAME.iloc[:0], "kps >= 60 and sex == 'male'")
    assert mask.shape == (0,) and mask.dtype == bool
