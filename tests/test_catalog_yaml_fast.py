"""The fast YAML path (yaml_rs, YAML 1.2) gives exactly what StrictLoader (PyYAML, YAML 1.1) gives, or steps aside.

Every catalog file is read by ``yamlio.read``; most go through yaml_rs. These tests hold the two readers to the
same data on the shipped catalog, on each shape the two YAML versions read differently, and on generated
documents mixing plain and quoted tricky scalars."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fmreview.catalog import yamlio
from fmreview.catalog.store import default_root

pytestmark = pytest.mark.skipif(yamlio._yaml_rs is None, reason="yaml_rs is a dependency; its wheel is missing")


def strict(text: str):
    return yaml.load(text, Loader=yamlio.StrictLoader)


def test_shipped_catalog_reads_the_same_and_mostly_fast():
    files = sorted(default_root().rglob("*.yaml"))
    fast = 0
    for p in files:
        text = p.read_text(encoding="utf-8")
        got = yamlio._fast_load(text)
        if got is yamlio._MISS:
            continue
        fast += 1
        assert got == strict(text), p
    assert fast >= 0.8 * len(files), f"only {fast} of {len(files)} files took the fast path"


# shapes YAML 1.1 and 1.2 read differently, or features the fast path leaves to PyYAML
TRICKY = [
    "k: yes", "k: No", "k: ON", "k: off", "on: 1", "- yes", "k: [yes, no]", "k: 1e5", "k: 1.5e3", "k: -.5",
    "k: +.5", "k: 0o17", "k: 010", "k: 0b11", "k: 1_000", "k: 1:20", "k: 190:20:30.15", "k: 2020-01-01",
    "k: 2001-12-14t21:59:43.10-05:00", "k: =", "<<: {a: 1}\nb: 2", "a: &x 1\nb: *x", "k: !!str 3", "k: |\n  text",
    "k: >\n  folded\n  text", "k: |-\n", "k: {a: 1}", "k: [1,1e5]", "k:\n  yes", "? k\n: v", "%YAML 1.1\n---\nk: 1",
    "k: 1\n...\n",
]


@pytest.mark.parametrize("text", TRICKY)
def test_each_tricky_shape_is_left_to_strict_loader(text, tmp_path):
    assert yamlio._fast_load(text + "\n") is yamlio._MISS
    p = tmp_path / "x.yaml"
    p.write_text(text + "\n")
    data, problems = yamlio.read(p, tmp_path)
    try:
        expected = strict(text + "\n")
    except yaml.YAMLError:
        assert data is None and problems
    else:
        assert data == expected or not isinstance(expected, dict)


def test_plain_documents_take_the_fast_path_with_the_same_data():
    text = ("id: sam-med2d\nname: 'SAM-Med2D: yes'\nyear: 2023\nvalue: 81.52\nneg: -3\nratio: 0.5\nflag: true\n"
            "none: null\nlist:\n- a\n- 'on'\n- 1\nmean: [0.485, 0.456, 0.406]\nempty: []\nnote: a long note that\n"
            "  wraps over lines, 15,000 cases & more\nquoted: \"2020-01-01\"\ncount: 1 # yes, a comment\n")
    got = yamlio._fast_load(text)
    assert got is not yamlio._MISS
    assert got == strict(text)


def test_duplicate_keys_and_syntax_errors_get_strict_loaders_message(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("id: a\nname: b\nid: c\n")
    data, problems = yamlio.read(p, tmp_path)
    assert data is None and problems[0].line == 3 and "duplicate key 'id'" in problems[0].message
    p.write_text("id: a\nlist: [1, 2\n")
    data, problems = yamlio.read(p, tmp_path)
    assert data is None and problems[0].message.startswith("YAML syntax")


_PLAIN = st.sampled_from(["yes", "no", "on", "Off", "1e5", "1.5e3", "-.5", "0o17", "010", "0b1", "1_000", "1:20",
                          "2020-01-01", "=", "~", "null", "true", "False", "0", "-1", "3.25", "+7", ".inf", "-.NaN",
                          "0x1f", "abc", "a b", "x:y", "15,000", "1.", "12e", "e5", "y", "n", "NO"])
_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,:-_+=&*!|>[]{}#'\"%?", max_size=12)


def _scalar(draw_plain, draw_text, quoted):
    return draw_plain if not quoted else "'" + draw_text.replace("'", "''") + "'"


@st.composite
def documents(draw):
    lines = []
    for i in range(draw(st.integers(1, 6))):
        key = draw(st.sampled_from(["k", "on", "yes", "1e5", "id", "note", "2020-01-01", "x"])) + str(i)
        kind = draw(st.sampled_from(["plain", "quoted", "seq", "flow"]))
        if kind == "plain":
            lines.append(f"{key}: {draw(_PLAIN)}")
        elif kind == "quoted":
            lines.append(f"{key}: " + _scalar(None, draw(_TEXT), True))
        elif kind == "seq":
            lines.append(f"{key}:")
            lines += [f"- {draw(_PLAIN)}" for _ in range(draw(st.integers(1, 3)))]
        else:
            lines.append(f"{key}: [" + ", ".join(draw(_PLAIN) for _ in range(draw(st.integers(0, 3)))) + "]")
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None)
@given(documents())
def test_generated_documents_read_as_strict_loader_reads_them(text):
    try:
        expected = strict(text)
    except yaml.YAMLError:
        expected = yamlio._MISS
    got = yamlio._fast_load(text)
    if got is not yamlio._MISS:
        assert expected is not yamlio._MISS, "the fast path accepted what StrictLoader refuses"
        assert got == expected and _types(got) == _types(expected)


def _types(x):
    if isinstance(x, dict):
        return {k: _types(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_types(v) for v in x]
    return type(x).__name__
