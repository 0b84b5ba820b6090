"""Random and mutated YAML never crashes the loader: it is read or cleanly refused."""

import string

import pytest

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmreview.catalog import validate
from fmreview.catalog.errors import Problem

from conftest import MODELS, RESULTS, write_catalog

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def check(tmp_path, rel, text_or_bytes):
    root = write_catalog(tmp_path / "c")
    p = root / rel
    if isinstance(text_or_bytes, bytes):
        p.write_bytes(text_or_bytes)
    else:
        p.write_text(text_or_bytes, encoding="utf-8")
    problems = validate(root)
    assert all(isinstance(x, Problem) and x.file and x.message for x in problems)
    return problems


@FUZZ
@given(st.text(alphabet=string.printable + "äé:-[]{}&*!|>'\"%@`", max_size=300))
def test_random_text(tmp_path_factory, text):
    check(tmp_path_factory.mktemp("t"), "models/fuzz.yaml", text)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(tmp_path_factory, data):
    check(tmp_path_factory.mktemp("t"), "papers/fuzz.yaml", data)


@FUZZ
@given(st.data())
def test_mutated_model(tmp_path_factory, data):
    doc = yaml.safe_load(MODELS["medsam"].replace("\n        ", "\n"))
    key = data.draw(st.sampled_from(sorted(doc)))
    action = data.draw(st.sampled_from(["drop", "replace", "add"]))
    if action == "drop":
        del doc[key]
    elif action == "replace":
        doc[key] = data.draw(values)
    else:
        doc[data.draw(st.text(min_size=1, max_size=6))] = data.draw(values)
    problems = check(tmp_path_factory.mktemp("t"), "models/medsam.yaml", yaml.safe_dump(doc, allow_unicode=True))
    if action == "add":
        assert problems  # an unknown key is always refused


@FUZZ
@given(st.data())
def test_mutated_results(tmp_path_factory, data):
    doc = yaml.safe_load("\n".join(l[8:] for l in RESULTS["medsam-2024"].splitlines()))
    i = data.draw(st.integers(0, len(doc["results"]) - 1))
    key = data.draw(st.sampled_from(sorted(doc["results"][i])))
    doc["results"][i][key] = data.draw(values)
    check(tmp_path_factory.mktemp("t"), "results/medsam-2024.yaml", yaml.safe_dump(doc, allow_unicode=True))


def _same(a, b):
    """Equal, with NaN equal to NaN (the loaders must agree on every value and type)."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


dated = st.one_of(values, st.dates(), st.datetimes(), st.binary(max_size=8),
                  st.sampled_from(["yes", "no", "on", "0x1f", "0o17", "1_000", "1e3", ".inf", "~", "2024-01-01",
                                   "null", "True", "012", "+1", "-.5", "1:30", "=", "<<"]))
docs = st.recursive(dated, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=8) | st.integers(), inner,
                                                                   max_size=4)), max_leaves=12)


@FUZZ
@given(doc=docs, style=st.sampled_from([None, False, True]))
def test_strict_loader_builds_what_safe_loader_builds(doc, style):
    """The strict loader's fast constructor gives exactly PyYAML's SafeLoader result for any dumped document."""
    from fmreview.catalog.yamlio import StrictLoader

    text = yaml.safe_dump(doc, default_flow_style=style, allow_unicode=True)
    assert _same(yaml.load(text, Loader=StrictLoader), yaml.load(text, Loader=yaml.SafeLoader))


def test_strict_loader_anchors_merge_keys_and_complex_keys():
    from fmreview.catalog.yamlio import StrictLoader

    for text in ("a: &x [1, 2]\nb: *x\n", "base: &b {k: 1, j: 2}\nder:\n  <<: *b\n  j: 3\n",
                 "? a\n: v\n", "x: !!str 12\ny: !!float 1\nz: 2024-05-06\n", "- &r {a: 1}\n- *r\n"):
        assert _same(yaml.load(text, Loader=StrictLoader), yaml.load(text, Loader=yaml.SafeLoader)), text
    for loader in (StrictLoader, yaml.SafeLoader):  # an unhashable key is refused the same way
        with pytest.raises(yaml.constructor.ConstructorError, match="found unhashable key"):
            yaml.load("? [1, 2]\n: v\n", Loader=loader)
    shared = yaml.load("a: &x [1]\nb: *x\n", Loader=StrictLoader)
    assert shared["a"] is shared["b"]  # an alias is the same object, as PyYAML builds it
    for dup in ("a: 1\na: 2\n", "m: {k: 1, k: 2}\n", "base: &b {k: 1}\nder: {<<: *b, x: 1, x: 2}\n"):
        with pytest.raises(yaml.MarkedYAMLError, match="duplicate key"):
            yaml.load(dup, Loader=StrictLoader)
