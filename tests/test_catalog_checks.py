"""Issue 15: validation catches plausible mistakes; aggregates and doubts are fields; filters mean what they
say; ids are checked; listings show what a reviewer needs; the catalog CLI says what it did."""

import json
import textwrap

import pandas as pd
import pytest

from fmreview.catalog import UnknownIdError, check, check_ids, load, schema, validate, vocab
from fmreview.reports.cli import build_parser, main

HEAD = """
source:
  paper: medsam-2024
  url: https://example.org/table
  reported_by: third-party
results:
"""


def result(id_, model="medsam", value=80.0, unit="percent", subset=None, dataset="btcv", metric="dice", **extra):
    fields = {"id": id_, "model": model, "dataset": dataset, "subset": subset, "task": "segmentation",
              "metric": metric, "value": value, "unit": unit, "setting": "zero-shot", "prompt": "box",
              "locator": "Table 1", **extra}
    lines = [f"- id: {id_}"] + [f"  {k}: {json.dumps(v) if isinstance(v, (str, dict)) else v}"
                                for k, v in fields.items() if k != "id" and v is not None]
    return "\n".join(lines) + "\n"


def write_results(root, *rows, name="extra.yaml"):
    (root / "results" / name).write_text(textwrap.dedent(HEAD).lstrip() + "".join(rows), encoding="utf-8")


def texts(problems):
    return "\n".join(map(str, problems))


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("written", ["93,7M", "93,700,000", "1.2.3M", "93.7 M", "12 GB", "true"])
def test_counts_in_strings_outside_the_schema_notation_are_rejected(mini_catalog, written):
    p = mini_catalog / "models" / "medsam.yaml"
    p.write_text(p.read_text().replace("parameters: 93.7M", f"parameters: '{written}'"))
    text = texts(validate(mini_catalog))
    assert "models/medsam.yaml:9: parameters: expected a count such as 86000000, '86M' or '1.1B'" in text
    assert repr(written) in text


def test_the_count_notation_the_schema_defines_is_accepted():
    assert [schema._count(x) for x in ("93.7M", "1.1B", "300k", "86000000")] == [93_700_000, 1_100_000_000,
                                                                                300_000, 86_000_000]
    with pytest.raises(ValueError, match="whole number"):
        schema._count("12.5")


@pytest.mark.parametrize("field, written", [("value", "'1.2B'"), ("value", "'0.85'"), ("value", "93,7"),
                                            ("n", "'420'"), ("value", "true")])
def test_numbers_in_strings_are_rejected_where_a_number_is_expected(mini_catalog, field, written):
    write_results(mini_catalog, result("x-1", n=5).replace(f"  {field}: ", f"  {field}: {written} #", 1))
    text = texts(validate(mini_catalog))
    assert f"results/extra.yaml:{11 if field == 'value' else 16}: results[0].{field}: expected a number, got" in text


def test_value_outside_its_own_ci_is_rejected(mini_catalog):
    write_results(mini_catalog, result("x-1", value=0.91, unit="fraction") +
                  "  uncertainty: {ci_low: 0.80, ci_high: 0.90}\n")
    assert ("results/extra.yaml:11: results[0].value: value 0.91 is outside its own confidence interval [0.8, 0.9]"
            in texts(validate(mini_catalog)))


def test_value_on_its_ci_bound_is_accepted(mini_catalog):
    write_results(mini_catalog, result("x-1", value=0.9, unit="fraction") +
                  "  uncertainty: {ci_low: 0.80, ci_high: 0.90}\n")
    assert validate(mini_catalog) == []


@pytest.mark.parametrize("unc, unit, value, bad", [
    ("{sd: 51}", "percent", 80, "sd 51 is impossible for dice in unit percent"),
    ("{se: 0.6}", "fraction", 0.8, "se 0.6 is impossible for dice in unit fraction"),
])
def test_sd_or_se_impossible_for_a_bounded_metric_is_rejected(mini_catalog, unc, unit, value, bad):
    write_results(mini_catalog, result("x-1", value=value, unit=unit) + f"  uncertainty: {unc}\n")
    text = texts(validate(mini_catalog))
    assert bad in text and "Popoviciu" in text and "results[0].uncertainty." in text


def test_sd_at_the_bound_and_on_unbounded_metrics_is_accepted(mini_catalog):
    write_results(mini_catalog, result("x-1", value=50, unit="percent") + "  uncertainty: {sd: 50}\n",
                  result("x-2", value=12.0, unit="mm", metric="hd95") + "  uncertainty: {sd: 300}\n")
    assert validate(mini_catalog) == []


def test_same_result_entered_twice_under_a_new_id_is_rejected(mini_catalog):
    write_results(mini_catalog, result("x-1", subset="liver"), result("x-2", subset="liver", value=81.0),
                  result("x-3", subset="liver", condition="input 256"))  # a condition tells x-3 apart
    problems, _ = check(mini_catalog)
    dup = [p for p in problems if "duplicate result" in p.message]
    assert len(dup) == 1 and dup[0].file == "results/extra.yaml" and dup[0].line == 17
    assert "'x-2' has the same model, dataset, subset" in dup[0].message and "'x-1' (results/extra.yaml:6)" in dup[0].message


def test_errors_all_come_back_in_one_run(mini_catalog):
    write_results(mini_catalog, result("x-1", value="'0.8'"), result("x-2", value=0.91, unit="fraction") +
                  "  uncertainty: {ci_low: 0.80, ci_high: 0.90}\n", result("x-3"), result("x-4", value=70.0))
    text = texts(validate(mini_catalog))
    assert "results[0].value: expected a number" in text and "outside its own confidence interval" in text
    assert "duplicate result: 'x-4'" in text


# ---------------------------------------------------------------------------------------------- warnings


def test_an_sd_without_what_it_spans_is_a_warning_and_runs_need_runs_or_folds(mini_catalog):
    write_results(mini_catalog, result("x-1", subset="a") + "  uncertainty: {sd: 1.2}\n",
                  result("x-2", subset="b") + "  uncertainty: {sd: 1.2, over: runs, runs: 3}\n",
                  result("x-3", subset="c") + "  uncertainty: {sd: 1.2, over: not-stated}\n")
    problems, warnings = check(mini_catalog)
    assert problems == []
    spread = [w for w in warnings if "what the SD is over is not stated" in w.message and w.file == "results/extra.yaml"]
    assert [(w.field, w.line) for w in spread] == [("results[0].uncertainty.over", 17)]
    write_results(mini_catalog, result("x-1") + "  uncertainty: {sd: 1.2, over: cases, runs: 3}\n")
    assert "runs 3 goes with over: runs or over: folds (got over: cases)" in texts(validate(mini_catalog))
    write_results(mini_catalog, result("x-1") + "  uncertainty: {sd: 1.2, over: seeds}\n")  # an alias
    assert "unknown uncertainty_over word 'seeds' (did you mean 'runs'?)" in texts(validate(mini_catalog))


def test_a_fraction_among_percent_values_is_a_warning(mini_catalog, capsys):
    write_results(mini_catalog, *(result(f"x-{i}", subset=s, value=v) for i, (s, v) in
                                  enumerate([("a", 80.1), ("b", 85.3), ("c", 90.0), ("d", 0.8842)])))
    problems, warnings = check(mini_catalog)
    assert problems == []
    assert any(w.line == 45 and w.field == "results[3].value" and "looks like a fraction" in w.message
               and "80.1–90" in w.message for w in warnings)
    assert main(["catalog", "validate", "--catalog", str(mini_catalog)]) == 0
    out = capsys.readouterr().out
    assert "warning: results/extra.yaml:45: results[3].value: value 0.8842 in unit percent looks like a fraction" in out
    assert "catalog OK (1 warning)" in out


def test_alias_labels_with_identical_values_are_a_warning(mini_catalog):
    rows = [result(f"x-{m}-{s}", model=m, subset=s, value=v)
            for m, vals in (("medsam", (81.234, 70.1, 81.234)), ("sam", (60.321, 55.0, 60.321)))
            for s, v in zip(("tumour", "edema", "lesion"), vals)]
    write_results(mini_catalog, *rows)
    _, warnings = check(mini_catalog)
    alias = [w for w in warnings if "repeats subset" in w.message]
    assert len(alias) == 1 and "subset 'lesion' repeats subset 'tumour'" in alias[0].message
    # a doubt on one of the labels is the curator's answer
    rows[2] = rows[2].replace("  locator:", "  doubt: alias of tumour\n  locator:")
    write_results(mini_catalog, *rows)
    assert not [w for w in check(mini_catalog)[1] if "repeats subset" in w.message]


def test_an_unmarked_mean_row_is_a_warning_and_marking_it_silences_it(mini_catalog):
    parts = [result(f"x-{s}", subset=s, value=v) for s, v in (("liver", 90.1), ("spleen", 85.7), ("kidney", 70.3))]
    write_results(mini_catalog, *parts, result("x-ave", subset="Ave", value=82.03))
    _, warnings = check(mini_catalog)
    assert [w.field for w in warnings] == ["results[3].value"] and "equals the mean of its 3 siblings" in warnings[0].message
    write_results(mini_catalog, *parts, result("x-ave", subset="Ave", value=82.03,
                                               aggregate={"kind": "mean", "over": "3 organs"}))
    problems, warnings = check(mini_catalog)
    assert problems == [] and warnings == []


def test_an_ordinary_row_near_the_mean_is_not_a_warning(mini_catalog):
    # the middle of evenly spaced values at two decimals, with a plain label: chance, not an aggregate
    write_results(mini_catalog, *(result(f"x-{s}", subset=s, value=v, unit="fraction", metric="auc")
                                  for s, v in (("a", 0.70), ("b", 0.75), ("c", 0.80), ("d", 0.75), ("e", 0.76))))
    assert check(mini_catalog) == ([], [])


def test_only_warnings_exit_0_and_errors_exit_1(mini_catalog, capsys):
    write_results(mini_catalog, *(result(f"x-{i}", subset=s, value=v) for i, (s, v) in
                                  enumerate([("a", 80.1), ("b", 85.3), ("c", 90.0), ("d", 0.8842)])),
                  result("x-9", subset="a"))
    assert main(["catalog", "validate", "--catalog", str(mini_catalog)]) == 1
    out = capsys.readouterr().out
    assert "warning: " in out and "duplicate result: 'x-9'" in out


# ---------------------------------------------------------------------------------------------- fields


def test_aggregate_and_doubt_are_fields_columns_and_filters(mini_catalog):
    write_results(mini_catalog, result("x-a", subset="a", aggregate="mean"),
                  result("x-b", subset="b", aggregate={"kind": "weighted-mean", "over": "folds"}),
                  result("x-c", subset="c", doubt="probably inverted"))
    cat = load(mini_catalog)
    r = cat.results.set_index("id")
    assert r.loc["x-a", "aggregate"] == "mean" and pd.isna(r.loc["x-a", "aggregate_over"])
    assert r.loc["x-b", "aggregate"] == "weighted-mean" and r.loc["x-b", "aggregate_over"] == "folds"
    assert r.loc["x-c", "doubt"] == "probably inverted"
    every = set(cat.results_where(dataset="btcv")["id"])
    assert {"x-a", "x-b", "x-c"} <= every  # listings keep everything by default
    assert set(cat.results_where(dataset="btcv", include_aggregates=False)["id"]) == every - {"x-a", "x-b"}
    assert set(cat.results_where(dataset="btcv", include_doubtful=False)["id"]) == every - {"x-c"}


def test_an_unknown_aggregate_kind_is_rejected(mini_catalog):
    write_results(mini_catalog, result("x-a", aggregate="avg-ish"))
    assert "results[0].aggregate.kind: unknown aggregate word 'avg-ish'" in texts(validate(mini_catalog))


def test_json_schema_takes_aggregate_as_word_or_mapping():
    agg = schema.json_schema()["$defs"]["Result"]["properties"]["aggregate"]["anyOf"]
    assert agg[0] == {"type": "string", "enum": vocab.words("aggregate")}
    assert {"$ref": "#/$defs/Aggregate"} in agg
    assert "doubt" in schema.json_schema()["$defs"]["Result"]["properties"]


# ---------------------------------------------------------------------------------------------- filters


def multi_modality(root):
    (root / "datasets" / "mix.yaml").write_text(textwrap.dedent("""
        id: mix
        name: Mixed collection
        modalities: [ct, mri, x-ray]
        anatomy: [abdomen, chest]
        tasks: [segmentation]
        sources:
        - url: https://example.org/mix
          locator: README
    """).lstrip())
    write_results(root, result("m-ct", dataset="mix", subset="CT liver", modality="ct", anatomy="abdomen"),
                  result("m-xr", dataset="mix", subset="X-ray lung", modality="x-ray", anatomy="chest"),
                  result("m-none", dataset="mix", subset="all"))


def test_modality_and_anatomy_filters_use_the_results_own_value(mini_catalog):
    multi_modality(mini_catalog)
    cat = load(mini_catalog)
    assert sorted(cat.results_where(modality="x-ray")["id"]) == ["m-xr", "r-clip-chexpert"]
    assert sorted(cat.results_where(modality="CT")["id"]) == ["m-ct", "r-medsam-btcv", "r-sam-btcv"]
    # a result on a multi-modality dataset without its own modality matches no modality
    assert "m-none" not in set(cat.results_where(modality="ct,mri,x-ray")["id"])
    assert sorted(cat.results_where(anatomy="Abdomen")["id"]) == ["m-ct", "r-medsam-btcv", "r-sam-btcv"]
    assert list(cat.results_where(anatomy="chest")["id"]) == ["m-xr"]
    assert list(cat.results_where(task="classification")["id"]) == ["r-clip-chexpert"]
    r = cat.results.set_index("id")
    assert r.loc["r-sam-btcv", "modality"] == "ct" and r.loc["r-sam-btcv", "anatomy"] == "abdomen"  # the dataset's only
    assert pd.isna(r.loc["m-none", "modality"])


def test_paired_text_does_not_make_an_image_dataset_multi_modality(mini_catalog):
    p = mini_catalog / "datasets" / "chexpert.yaml"
    p.write_text(p.read_text().replace("modalities: [x-ray]", "modalities: [x-ray, text]"))
    assert list(load(mini_catalog).results_where(modality="x-ray")["id"]) == ["r-clip-chexpert"]


def test_check_ids_refuses_unknown_ids_with_a_suggestion(mini_catalog):
    cat = load(mini_catalog)
    assert check_ids(cat, "model", "medsam,sam") == ["medsam", "sam"] and check_ids(cat, "model", None) == []
    with pytest.raises(UnknownIdError) as e:
        check_ids(cat, "model", ["medsm"])
    assert str(e.value) == "no model 'medsm' in the catalog; did you mean 'medsam'?"
    assert isinstance(e.value, ValueError)
    with pytest.raises(ValueError, match="no dataset 'zzz' in the catalog$"):
        check_ids(cat, "dataset", "zzz")
    with pytest.raises(ValueError, match="no source paper 'sam-2032' in the catalog; did you mean 'sam-2023'"):
        cat.results_where(source="sam-2032")
    assert check_ids(cat, "entry", ["r-sam-btcv", "btcv", "clip-2021"])


@pytest.mark.parametrize("argv, message", [
    (["results", "--model", "medsm"], "no model 'medsm' in the catalog; did you mean 'medsam'?"),
    (["results", "--dataset", "btcvv"], "no dataset 'btcvv' in the catalog; did you mean 'btcv'?"),
    (["results", "--source", "medsam-2042"], "no source paper 'medsam-2042' in the catalog; did you mean 'medsam-2024'?"),
    (["show", "chexpertt"], "no entry 'chexpertt' in the catalog; did you mean 'chexpert'?"),
])
def test_cli_refuses_unknown_ids(mini_catalog, capsys, argv, message):
    assert main(argv + ["--catalog", str(mini_catalog)]) == 1
    cap = capsys.readouterr()
    assert cap.err.strip() == f"fmreview: error: {message}" and cap.out == ""


# ---------------------------------------------------------------------------------------------- listings


def test_results_listing_shows_subset_source_flags_and_full_ids(mini_catalog, capsys):
    long_id = "x-" + "very-long-identifier-" * 4 + "end"
    write_results(mini_catalog, result(long_id, subset="left kidney", aggregate="mean",
                                       locator="Table 9, a very long locator " + "that goes on " * 6),
                  result("x-d", subset="liver", doubt="typo?"))
    assert main(["results", "--catalog", str(mini_catalog), "--dataset", "btcv"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert {"subset", "source", "flags"} <= set(header)
    assert long_id in out and "…" not in out
    assert ("that goes on " * 6).strip() not in out  # the locator wraps onto further lines
    row = next(l for l in out.splitlines() if l.startswith(long_id))
    assert "aggregate" in row and "left kidney" in row and "medsam-2024" in row
    assert "doubt" in next(l for l in out.splitlines() if l.startswith("x-d "))
    assert main(["results", "--catalog", str(mini_catalog), "--dataset", "btcv", "--wide"]) == 0
    wide = capsys.readouterr().out
    assert ("that goes on " * 6).strip() in next(l for l in wide.splitlines() if l.startswith(long_id))
    assert main(["results", "--catalog", str(mini_catalog), "--dataset", "btcv", "--exclude-aggregates",
                 "--exclude-doubtful", "--format", "json"]) == 0
    ids = {r["id"] for r in json.loads(capsys.readouterr().out)}
    assert ids == {"r-medsam-btcv", "r-sam-btcv"}


def test_help_texts_list_every_vocabulary_word():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices
    helps = {(cmd, a.dest): a.help for cmd in ("models", "datasets", "papers", "results")
             for a in sub[cmd]._actions}
    for (cmd, dest), vocabulary in {("results", "setting"): "setting", ("results", "prompt"): "prompt",
                                    ("results", "metric"): "metric", ("results", "modality"): "modality",
                                    ("models", "family"): "family", ("models", "band"): "band",
                                    ("models", "model_group"): "model_group", ("datasets", "dimensionality"):
                                    "dimensionality", ("datasets", "access"): "access",
                                    ("papers", "kind"): "paper_kind"}.items():
        for word in vocab.words(vocabulary):
            assert word in helps[(cmd, dest)], (cmd, dest, word)
    assert "supervised" in helps[("results", "setting")]


def test_fmt_says_what_it_changed(mini_catalog, capsys):
    main(["catalog", "fmt", "--catalog", str(mini_catalog)])  # the fixture's files are hand-written
    capsys.readouterr()
    assert main(["catalog", "fmt", "--catalog", str(mini_catalog)]) == 0
    assert "nothing to change" in capsys.readouterr().out
    p = mini_catalog / "papers" / "sam-2023.yaml"
    p.write_text("kind: method\n" + p.read_text().replace("kind: method\n", ""))
    assert main(["catalog", "fmt", "--catalog", str(mini_catalog)]) == 0
    out = capsys.readouterr().out
    assert "formatted: papers/sam-2023.yaml" in out and "formatted 1 file" in out


def test_validate_counts_every_kind_of_file(mini_catalog, capsys):
    from fmreview.catalog.store import KINDS

    assert main(["catalog", "validate", "--catalog", str(mini_catalog)]) == 0
    out = capsys.readouterr().out
    assert "catalog OK: 9 files: 3 papers, 3 models, 2 datasets, 1 results files with 3 results" in out
    assert set(KINDS) == {"papers", "models", "datasets", "results", "protocols"}  # a new kind must join the OK line


def test_show_lists_a_models_results_with_their_flags(mini_catalog, capsys):
    write_results(mini_catalog, result("x-d", subset="liver", doubt="typo?"), result("x-a", subset="all", aggregate="mean"))
    assert main(["show", "medsam", "--catalog", str(mini_catalog), "--format", "json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert rows["x-d"]["doubt"] == "typo?" and rows["x-a"]["aggregate"] == "mean" and "doubt" not in rows["x-a"]
