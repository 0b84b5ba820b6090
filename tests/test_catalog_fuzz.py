"""Random and mutated YAML never crashes the loader: it is read or cleanly refused."""

import string

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
