"""Screening: the prioritisation model, the stopping aid, `lit decide`, reviewer agreement (κ against
scikit-learn) and the simulation's metrics (hand-computed WSS@95 and ATD; a random order saves nothing)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from fmreview.lit.prioritise import Prioritiser, balanced_weights, stopping_aid
from fmreview.lit.review import Decision, Record, Review, ReviewError
from fmreview.lit.screening import Screening, agreement, cohen_kappa
from fmreview.lit.simulate import metrics, read_labelled, screened_at, simulate
from fmreview.reports.cli import main

RELEVANT = [
    ("A foundation model for chest radiograph segmentation", "We pretrain a vision transformer on chest x-ray "
     "images and fine-tune it for lung segmentation in radiology."),
    ("Self-supervised pretraining of a medical imaging foundation model", "A transformer pretrained on CT and MRI "
     "scans transfers to segmentation and classification in radiology."),
    ("Segment anything for medical images", "Adapting a segmentation foundation model to MRI, CT and x-ray "
     "radiology images."),
    ("Vision-language pretraining on radiology reports and chest x-ray", "Contrastive pretraining of image and "
     "text encoders for chest radiograph classification."),
]
IRRELEVANT = [
    ("Crop yields under drought in the Sahel", "Rainfall, soil moisture and maize harvests over two decades."),
    ("A history of the Hanseatic League", "Merchants, ports and trade routes of the Baltic in the middle ages."),
    ("Sourdough fermentation kinetics", "Yeast and lactic acid bacteria in bread dough at different temperatures."),
    ("Migratory routes of Arctic terns", "Satellite tags follow birds between the poles across the oceans."),
    ("Tax policy and small firms", "Corporate tax rates, compliance costs and firm growth in Europe."),
    ("Coral reef bleaching events", "Sea surface temperature anomalies and coral mortality on reefs."),
]


def toy_review(tmp_path) -> tuple[Review, list[str], list[str]]:
    rv = Review.create(tmp_path / "rev", title="toy")
    recs = [Record(id=Record.make_id("toy", t), source="toy", title=t, abstract=a, year=2024,
                   authors=["A. Author"]) for t, a in RELEVANT + IRRELEVANT]
    rv.add_records(recs)
    return rv, [r.id for r in recs[:len(RELEVANT)]], [r.id for r in recs[len(RELEVANT):]]


def test_model_ranks_relevant_looking_records_first():
    texts = [f"{t} {a}" for t, a in RELEVANT + IRRELEVANT]
    y = np.array([1] * len(RELEVANT) + [0] * len(IRRELEVANT))
    for model in ("nb", "logistic"):
        m = Prioritiser(texts, model=model, seed=3)
        labelled = np.array([0, len(RELEVANT)])  # one relevant, one irrelevant known
        r = m.rank(labelled, y[labelled])
        assert r.model_ready
        assert set(r.order[:len(RELEVANT) - 1]) == set(range(1, len(RELEVANT))), model
        assert len(r.order) == len(texts) - 2 and not set(r.order) & set(labelled)


def test_cold_start_is_a_seeded_order():
    texts = [f"{t} {a}" for t, a in RELEVANT + IRRELEVANT]
    a = Prioritiser(texts, seed=1).rank(np.array([2]), np.array([1]))
    b = Prioritiser(texts, seed=1).rank(np.array([2]), np.array([1]))
    c = Prioritiser(texts, seed=2).rank(np.array([2]), np.array([1]))
    assert not a.model_ready and a.order.tolist() == b.order.tolist() and 2 not in a.order
    assert sorted(a.order.tolist()) == sorted(c.order.tolist()) and a.order.tolist() != c.order.tolist()


def test_balanced_weights_as_asreview():
    y = np.array([1, 0, 0, 0, 0])
    w = balanced_weights(y, ratio=1.0)
    assert w.sum() == pytest.approx(5)
    assert w[0] == pytest.approx(w[1:].sum())  # the classes weigh the same whatever the imbalance
    w = balanced_weights(y, ratio=2.0)
    assert w[0] == pytest.approx(2 * w[1:].sum())


def test_stopping_aid():
    aid = stopping_aid([1, 0, 1, 0, 0, 0], found=2, proba_unscreened=np.array([0.5, 0.25, 0.25]))
    assert aid["since_last_inclusion"] == 3
    assert aid["expected_remaining"] == pytest.approx(1.0)
    assert aid["estimated_recall"] == pytest.approx(2 / 3, abs=1e-4)
    cold = stopping_aid([0, 0], found=0, proba_unscreened=None)
    assert cold["since_last_inclusion"] == 2 and cold["estimated_recall"] is None


def test_screening_loop_serves_undecided_records_and_learns(tmp_path):
    rv, rel, irr = toy_review(tmp_path)
    s = Screening(rv, reviewer="ann", seed=0)
    first = s.next()
    assert first["record"] is not None and first["state"]["estimated_recall"] is None
    seen = []
    res = first
    while res["record"] is not None:
        rid = res["record"]["id"]
        assert rid not in seen  # a decided record never comes back (without undo)
        seen.append(rid)
        res = s.decide(rid, "include" if rid in rel else "exclude")
    assert sorted(seen) == sorted(rel + irr)
    st = res["state"]
    assert st["screened"] == len(seen) and st["remaining"] == 0 and st["counts"]["include"] == len(rel)
    assert st["estimated_recall"] == pytest.approx(1.0)  # nothing left unscreened
    # once one inclusion and one exclusion are known, every relevant record comes before every irrelevant one
    i_first = min(seen.index(r) for r in rel)
    j_first = min(seen.index(r) for r in irr)
    rest = seen[max(i_first, j_first) + 1:]
    rel_rest = [k for k, r in enumerate(rest) if r in rel]
    irr_rest = [k for k, r in enumerate(rest) if r in irr]
    assert not rel_rest or not irr_rest or max(rel_rest) < min(irr_rest)
    # undo brings back the last record with its decision; the new decision is appended and supersedes it
    back = s.next(back=1)
    assert back["record"]["id"] == seen[-1] and back["previous"]["decision"] == "exclude"
    n = len(rv.decisions())
    s.decide(seen[-1], "maybe")
    assert len(rv.decisions()) == n + 1 and rv.latest("screening")[seen[-1]]["ann"].decision == "maybe"


def test_eligibility_serves_only_screening_includes(tmp_path):
    rv, rel, irr = toy_review(tmp_path)
    rv.decide(Decision(rel[0], "screening", "include"))
    rv.decide(Decision(rel[1], "screening", "maybe"))
    rv.decide(Decision(irr[0], "screening", "exclude"))
    s = Screening(rv, stage="eligibility")
    assert s.ids == [rel[0]]
    with pytest.raises(ReviewError, match="reason"):
        s.decide(rel[0], "exclude")
    with pytest.raises(ReviewError, match="not screened at eligibility"):
        s.decide(rel[1], "include")
    res = s.decide(rel[0], "exclude", reason="wrong population")
    assert res["record"] is None and res["state"]["reasons"] == ["wrong population"]


def _cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_decide_cli(tmp_path, capsys):
    rv, rel, irr = toy_review(tmp_path)
    d = str(rv.root)
    log = rv.root / "decisions.jsonl"
    rc, out, err = _cli(capsys, "lit", "decide", "rnope", "--stage", "screening", "--decision", "include",
                        "--review", d)
    assert rc == 1 and "no record 'rnope'" in err and err.count("\n") == 1 and not log.exists()
    rc, out, err = _cli(capsys, "lit", "decide", rel[0], "--stage", "screening", "--decision", "maybe",
                        "--note", "method unclear", "--reviewer", "ann", "--review", d, "--format", "json")
    assert rc == 0 and json.loads(out)["decision"] == "maybe" and json.loads(out)["note"] == "method unclear"
    # a maybe is not an inclusion: nothing reaches eligibility
    rc, out, err = _cli(capsys, "lit", "decide", rel[0], "--stage", "eligibility", "--decision", "include",
                        "--review", d)
    assert rc == 1 and "only records included at screening" in err
    _cli(capsys, "lit", "decide", rel[0], "--stage", "screening", "--decision", "include", "--reviewer", "ann",
         "--review", d)
    before = log.read_text()
    rc, out, err = _cli(capsys, "lit", "decide", rel[0], "--stage", "eligibility", "--decision", "exclude",
                        "--reviewer", "ann", "--review", d)
    assert rc == 1 and "needs a reason" in err and log.read_text() == before  # nothing written
    rc, out, err = _cli(capsys, "lit", "decide", rel[0], "--stage", "eligibility", "--decision", "exclude",
                        "--reason", "no full text evaluation", "--reviewer", "ann", "--review", d)
    assert rc == 0 and "no full text evaluation" in out
    assert Review(d).final("eligibility")[rel[0]].reason == "no full text evaluation"
    assert Review(d).settings["reviewers"] == ["ann"]


def test_kappa_matches_sklearn_and_conflicts(tmp_path, capsys):
    rv, rel, irr = toy_review(tmp_path)
    ids = rel + irr
    rng = np.random.default_rng(7)
    votes = {name: rng.choice(["include", "exclude", "maybe"], size=len(ids), p=[.4, .45, .15])
             for name in ("ann", "bob", "cy")}
    for name, vs in votes.items():
        for rid, v in zip(ids, vs):
            rv.decide(Decision(rid, "screening", str(v), reviewer=name))
    a = agreement(rv, "screening")
    assert a["reviewers"] == ["ann", "bob", "cy"] and len(a["pairs"]) == 3
    for pr in a["pairs"]:
        x, y = (votes[r] != "exclude" for r in pr["reviewers"])
        assert pr["kappa"] == pytest.approx(cohen_kappa_score(x, y), abs=1e-4)
        assert pr["records"] == len(ids)
    disagree = {rid for k, rid in enumerate(ids) if len({votes[n][k] for n in votes}) > 1}
    assert {c["id"] for c in a["conflicts"]} == disagree and disagree
    # a consensus decision resolves a conflict and is not a rater in κ
    target = sorted(disagree)[0]
    rc, out, err = _cli(capsys, "lit", "decide", target, "--stage", "screening", "--decision", "include",
                        "--reviewer", "consensus", "--review", str(rv.root))
    assert rc == 0
    rc, out, err = _cli(capsys, "lit", "conflicts", "--review", str(rv.root), "--stage", "screening",
                        "--format", "json")
    j = json.loads(out)
    assert rc == 0 and target not in {c["id"] for c in j["conflicts"]} and "consensus" not in j["reviewers"]
    rc, out, err = _cli(capsys, "lit", "conflicts", "--review", str(rv.root), "--stage", "screening")
    assert rc == 0 and "ann vs bob: kappa" in out
    # random κ values cover a hand case too: perfect agreement 1, total disagreement with balanced margins −1
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == pytest.approx(1)
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1)
    assert cohen_kappa([1, 1], [1, 1]) is None


def test_metrics_hand_computed():
    # N = 10, R = 2, relevant at positions 1 and 4:
    #   n95 = pos_ceil(1.9) = pos_2 = 4  →  WSS@95 = (10 − 4)/10 − 0.05 = 0.55
    #   ATD = (1/10 + 4/10) / 2 = 0.25
    m = metrics([1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    assert (m.records, m.relevant, m.screened_at_95, m.screened_at_100) == (10, 2, 4, 4)
    assert m.wss95 == pytest.approx(0.55) and m.atd == pytest.approx(0.25)
    # N = 100, R = 20 relevant at 1..19 and 100: 95 % = 19 found at 19 → WSS = 81/100 − 0.05 = 0.76
    y = np.zeros(100, dtype=int)
    y[:19] = 1
    y[99] = 1
    m = metrics(y)
    assert m.screened_at_95 == 19 and m.screened_at_100 == 100 and m.wss95 == pytest.approx(0.76)
    assert m.atd == pytest.approx((sum(range(1, 20)) + 100) / 20 / 100)
    assert m.recall_y[-1] == 1 and m.recall_y[19] == pytest.approx(0.95)
    assert screened_at(np.r_[np.ones(100), np.zeros(5)], 0.95) == 95  # 0.95·100 is not rounded up to 96


def test_random_order_saves_nothing():
    rng = np.random.default_rng(0)
    y = np.zeros(2000, dtype=int)
    y[:200] = 1
    wss = [metrics(rng.permutation(y)).wss95 for _ in range(200)]
    assert abs(np.mean(wss)) < 0.02
    atd = [metrics(rng.permutation(y)).atd for _ in range(200)]
    assert np.mean(atd) == pytest.approx(0.5, abs=0.02)


def _labelled_csv(tmp_path, n_rel=12, n_irr=120, seed=0):
    rng = np.random.default_rng(seed)
    med = "radiology segmentation transformer pretraining chest mri ct xray foundation encoder lesion".split()
    other = "harvest trade bread tax reef tern ocean merchant soil yeast firm rainfall port".split()
    rows = ["pubmedID,title,authors,abstract,year,abstractLabel,articleLabel,label_included,label_abstract_screening"]
    for i in range(n_rel + n_irr):
        rel = i < n_rel
        words = rng.choice(med if rel else other, 8).tolist() + rng.choice(med + other, 3).tolist()
        rows.append(f"{i},\"{' '.join(words[:4])}\",A B,\"{' '.join(words)}\",2001,I,I,{int(rel)},{int(rel)}")
    p = tmp_path / "labelled.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def test_simulation_beats_random_and_cli(tmp_path, capsys):
    p = _labelled_csv(tmp_path)
    titles, abstracts, y = read_labelled(p)
    assert y.sum() == 12 and len(y) == 132
    sim = simulate([f"{t} {a}" for t, a in zip(titles, abstracts)], y, seed=1)
    assert sim.metrics.records == 130 and sim.metrics.relevant == 11  # priors are left out
    assert sorted(sim.order.tolist() + sim.priors.tolist()) == list(range(132))
    assert sim.metrics.wss95 > 0.6  # separable toy set: the relevant records come first
    rc, out, err = _cli(capsys, "lit", "simulate", str(p), "--format", "json", "--seed", "1",
                        "--curve", str(tmp_path / "curve.svg"))
    j = json.loads(out)
    assert rc == 0 and set(j) == {"records", "relevant", "wss95", "atd", "screened_at_95", "screened_at_100",
                                  "model", "seed"}
    assert j["wss95"] == pytest.approx(sim.metrics.wss95, abs=1e-4) and j["seed"] == 1
    assert (tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")
    rc, out, err = _cli(capsys, "lit", "simulate", str(p), "--model", "logistic", "--prior-included", "3")
    assert rc == 0 and "WSS@95" in out and "model logistic" in out


def test_simulate_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("title,abstract,label_included\na,b,1\nc,d,\n")
    rc, out, err = _cli(capsys, "lit", "simulate", str(bad))
    assert rc == 1 and "bad.csv:3" in err and "0 or 1" in err
    nolab = tmp_path / "nolab.csv"
    nolab.write_text("title,abstract\na,b\n")
    rc, out, err = _cli(capsys, "lit", "simulate", str(nolab))
    assert rc == 1 and "no label column" in err
    rc, out, err = _cli(capsys, "lit", "simulate", str(tmp_path / "missing.csv"))
    assert rc == 1 and "no such file" in err


def test_screen_command_serves_on_loopback(tmp_path):
    import re
    import subprocess
    import sys
    import urllib.request

    rv, rel, irr = toy_review(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "fmreview.reports", "lit", "screen", "--review", str(rv.root),
                             "--port", "0", "--reviewer", "ann"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        base = m.group(0)
        page = urllib.request.urlopen(base, timeout=10).read().decode()
        assert "<script>" in page and "src=\"http" not in page and "href=\"http" not in page  # offline
        state = json.loads(urllib.request.urlopen(base + "api/state", timeout=10).read())
        assert state["reviewer"] == "ann" and state["total"] == len(rel + irr) and state["screened"] == 0
        req = urllib.request.Request(base + "api/decide", data=json.dumps({"id": rel[0], "decision": "include"})
                                     .encode(), headers={"Content-Type": "application/json"})
        nxt = json.loads(urllib.request.urlopen(req, timeout=10).read())
        assert nxt["record"]["id"] != rel[0] and Review(rv.root).latest("screening")[rel[0]]["ann"].decision == \
            "include"
        form = urllib.request.Request(base + "api/decide", data=b"id=x&decision=include",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(form, timeout=10)
        assert e.value.code == 415
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
