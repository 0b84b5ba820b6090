"""Protocols (issue 11 part 2): the catalog's Protocol model and Result.protocol, the shipped protocols and the
results naming them, recipes honouring each stated field, the record carrying the protocol, the verdict rule
for an unknown protocol ("indicative", never "not reproduced"), the feature cache shared by kNN and the linear
probe, and the bad input this part owns (class count, misstated checkpoint format)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import zoo_fixtures as Z  # noqa: E402
from conftest import write_catalog  # noqa: E402
from fmreview.catalog import schema  # noqa: E402
from fmreview.catalog.store import read_catalog, validate  # noqa: E402
from fmreview.reports.cli import main  # noqa: E402
from fmreview.zoo import metrics as M  # noqa: E402
from fmreview.zoo.recipes import knn, linear_head, preprocess, resize  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[1] / "catalog" / "data"
PINNED = re.compile(r"^https://github\.com/[^/]+/[^/]+/blob/[0-9a-f]{40}/")


# ------------------------------------------------------------------------------------------- the catalog side


def _result(**kw) -> dict:
    base = dict(id="r", model="m", dataset="d", task="classification", metric="auc", value=0.8, unit="fraction",
                setting="linear-probe", locator="Table 1")
    return base | kw


def test_a_result_names_a_protocol_or_states_one_inline():
    assert schema.Result.model_validate(_result(protocol="uni-roi-knn")).protocol == "uni-roi-knn"
    r = schema.Result.model_validate(_result(protocol={"head": {"kind": "knn", "k": 20}, "averaging": "macro"}))
    assert r.protocol.head.k == 20 and r.protocol.averaging == "macro"
    with pytest.raises(ValueError, match="kind 'knn' does not take epochs"):
        schema.Result.model_validate(_result(protocol={"head": {"kind": "knn", "epochs": 3}}))
    with pytest.raises(ValueError, match="has no '\\{\\}'"):
        schema.Result.model_validate(_result(protocol={"head": {"kind": "zero-shot", "templates": ["x"]}}))
    with pytest.raises(ValueError, match="malformed id"):
        schema.Result.model_validate(_result(protocol="Not An Id"))


def _protocol_catalog(root: Path, ref: str = "eva-linear") -> Path:
    protocol = """
        id: eva-linear
        name: A linear probe
        sources:
        - url: https://example.org/p
          locator: Table 1
        head:
          kind: linear
          optimiser: sgd
          epochs: 3
    """
    results = f"""
        source:
          paper: clip-2021
          url: https://example.org/p
        results:
        - id: p-1
          model: clip
          dataset: chexpert
          task: classification
          metric: auc
          value: 0.8
          unit: fraction
          setting: linear-probe
          protocol: {ref}
          locator: Table 1
        - id: p-2
          model: clip
          dataset: chexpert
          subset: inline
          task: classification
          metric: auc
          value: 0.8
          unit: fraction
          setting: linear-probe
          protocol:
            head:
              kind: knn
              epochs: 3
          locator: Table 1
    """
    return write_catalog(root, extra={"protocols/eva-linear.yaml": protocol, "results/p.yaml": results})


def test_unknown_protocol_ids_and_bad_blocks_are_file_line_errors(tmp_path, capsys):
    cat = _protocol_catalog(tmp_path / "catalog", ref="eva-linaer")
    problems = {(p.file, p.field): p for p in validate(cat)}
    typo = problems[("results/p.yaml", "results[0].protocol")]
    assert typo.line == 13 and "protocol 'eva-linaer', which is not in the catalog (did you mean 'eva-linear'?)" \
        in typo.message
    bad = problems[("results/p.yaml", "results[1].protocol.head")]  # the union's tag is not in the location
    assert bad.line == 25 and "kind 'knn' does not take epochs" in bad.message
    assert main(["catalog", "validate", "--catalog", str(cat)]) == 1
    out = capsys.readouterr().out
    assert "results/p.yaml:13" in out and "did you mean 'eva-linear'" in out


def test_protocols_are_a_kind_of_catalog_file(tmp_path, capsys):
    cat = _protocol_catalog(tmp_path / "catalog")
    text = (cat / "results" / "p.yaml").read_text().replace("      kind: knn\n      epochs: 3", "      kind: knn\n      k: 3")
    (cat / "results" / "p.yaml").write_text(text)
    raw = read_catalog(cat)
    assert raw.problems == [] and list(raw.protocols) == ["eva-linear"]
    assert main(["catalog", "validate", "--catalog", str(cat)]) == 0
    assert ", 1 protocols (" in capsys.readouterr().out
    (cat / "protocols" / "eva-linear.yaml").write_text("id: eva-linear\nname: x\nsources: []\nhead: {kind: svm}\n")
    found = {p.field: p for p in validate(cat) if p.file == "protocols/eva-linear.yaml"}
    assert {"sources", "head.kind"} <= set(found)
    (cat / "protocols" / "eva-linear.yaml").write_text(
        "id: eva-linear\nname: x\nsources:\n- {url: https://example.org/p, locator: T1}\nhead: {kind: knn, k: 3}\n"
        "inferred: [head.k, head.epochs]\n")
    found = {p.field: p for p in validate(cat) if p.file == "protocols/eva-linear.yaml"}
    assert found["inferred"].line == 6 and "'head.epochs', which is not set on this protocol" in found["inferred"].message


def test_shipped_protocols_are_sourced_at_pinned_commits_and_resolve():
    raw = read_catalog(SHIPPED)
    assert [p for p in raw.problems if p.file.startswith("protocols/") or ".protocol" in p.field] == []
    assert {"eva-2024-05-bach", "eva-2025-pcam", "uni-roi-knn", "medmnistplus-linear-probe-224",
            "chexzero-softmax-pair", "sam-med2d-test-box", "medsam-inference-box"} <= set(raw.protocols)
    for pid, e in raw.protocols.items():
        assert e.file == f"protocols/{pid}.yaml"
        for s in e.record.sources:
            assert PINNED.match(s.url), (pid, s.url)  # every source read at a commit
        head = e.record.head
        assert head is not None and head.kind in ("linear", "knn", "zero-shot", "box-prompt"), pid
    named = [(r, e.file) for e in raw.result_files for r in e.record.results if isinstance(r.protocol, str)]
    assert len(named) >= 300
    for r, _ in named:  # a protocol's head fits every result that names it
        kind = raw.protocols[r.protocol].record.head.kind
        want = "box-prompt" if r.task == "segmentation" else {"linear-probe": "linear", "knn": "knn",
                                                               "zero-shot": "zero-shot", "fine-tune": "linear"}[r.setting]
        assert kind == want, (r.id, r.protocol)
        backbone = raw.protocols[r.protocol].record.backbone
        assert backbone in (None, "trained" if r.setting == "fine-tune" else "frozen"), (r.id, r.protocol)
    by = {r.id: r.protocol for r, _ in named}
    assert by["uni-readme-old-uni-crc-100k"] == "uni-roi-knn"
    assert raw.protocols["uni-roi-knn"].record.head.k == 20  # README_old.md: "KNN (K=20)"
    eva = raw.protocols["eva-2024-05-bach"].record.head
    assert (eva.optimiser, eva.max_steps, eva.batch_size, eva.learning_rate) == ("sgd", 12500, 256, 0.000625)


# ------------------------------------------------------------------------------------------------- recipes


def test_resize_rules():
    x = torch.arange(2 * 3 * 4 * 8, dtype=torch.float32).view(2, 3, 4, 8)
    assert resize(x, 4, "square").shape[-2:] == (4, 4)
    crop = resize(x, 4, "shortest-edge", "center")
    assert crop.shape[-2:] == (4, 4) and torch.equal(crop, x[..., :, 2:6])  # no scaling needed: a centre crop
    assert resize(x, 4, "shortest-edge", "none").shape[-2:] == (4, 8)
    assert resize(x, 4, "longest-edge").shape[-2:] == (2, 4)
    img = np.full((1, 4, 8, 3), 255, np.uint8)
    padded = preprocess(img, 8, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "longest-edge")
    assert padded.shape == (1, 3, 8, 8)
    assert torch.all(padded[..., :4, :] == 1) and torch.all(padded[..., 4:, :] == 0)  # padded after normalising
    with pytest.raises(ValueError, match="unknown resize rule"):
        resize(x, 4, "stretch")


def test_knn_centred_normalised_uniform_equals_scikit_learn():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    xtr, ytr = rng.normal(size=(60, 5)) + 3, rng.integers(0, 3, 60)
    xte = rng.normal(size=(25, 5)) + 3
    xtr[ytr == 1] += 0.8
    classes, votes = knn(xtr, ytr, xte, k=7, weighting="uniform", distance="euclidean", center=True, normalise=True)
    mu = xtr.mean(0)
    a = (xtr - mu) / np.linalg.norm(xtr - mu, axis=1, keepdims=True)
    b = (xte - mu) / np.linalg.norm(xte - mu, axis=1, keepdims=True)
    sk = KNeighborsClassifier(n_neighbors=7).fit(a, ytr)
    assert np.allclose(votes, sk.predict_proba(b))
    # centring changes the neighbours of features far from the origin (cosine without it)
    _, plain = knn(xtr, ytr, xte, k=7, weighting="uniform")
    assert not np.allclose(plain, votes)


def test_linear_head_trains_as_stated():
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    x = rng.normal(size=(90, 8)) + 3 * np.eye(3, 8)[y]
    for opt in ("sgd", "adam", "adamw"):
        classes, p = linear_head(x, y, x, optimiser=opt, epochs=30, learning_rate=0.05, batch_size=16,
                                 schedule="cosine", seed=1)
        assert M.accuracy(y, classes[p.argmax(1)]) > 0.9, opt
    a = linear_head(x, y, x, optimiser="sgd", max_steps=5, learning_rate=0.01, batch_size=8, seed=3)[1]
    b = linear_head(x, y, x, optimiser="sgd", max_steps=5, learning_rate=0.01, batch_size=8, seed=3)[1]
    c = linear_head(x, y, x, optimiser="sgd", max_steps=5, learning_rate=0.01, batch_size=8, seed=4)[1]
    assert np.array_equal(a, b) and not np.allclose(a, c)  # one seed, one result; seeds differ
    none = linear_head(x, y, x, optimiser="sgd", max_steps=1, learning_rate=1e-9, batch_size=8, seed=3)[1]
    assert M.accuracy(y, none.argmax(1)) < 0.9  # 1 step at ~0 lr: untrained, so steps are honoured
    # early stopping: on a validation split whose labels contradict the train split, the best epoch is the first,
    # so the kept head is far from the one trained for every epoch
    flipped = (y + 1) % 3
    full = linear_head(x, y, x, optimiser="adam", epochs=60, learning_rate=0.003, batch_size=16, seed=1)[1]
    early = linear_head(x, y, x, optimiser="adam", epochs=60, learning_rate=0.003, batch_size=16, seed=1, val_x=x,
                        val_y=flipped, patience=2, monitor="accuracy")[1]
    assert M.accuracy(y, full.argmax(1)) > 0.9 > 0.8 > M.accuracy(y, early.argmax(1))
    same = linear_head(x, y, x, optimiser="adam", epochs=60, learning_rate=0.003, batch_size=16, seed=1, val_x=x,
                       val_y=y, patience=100, monitor="loss")[1]
    assert M.accuracy(y, same.argmax(1)) > 0.9  # patience never runs out: the best-loss epoch is a trained one
    with pytest.raises(ValueError, match="optimiser 'rmsprop'"):
        linear_head(x, y, x, optimiser="rmsprop")


def test_weighted_auc_equals_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.choice(3, 200, p=[0.6, 0.3, 0.1])
    s = rng.dirichlet(np.ones(3), 200)
    assert M.weighted_auc(y, s) == pytest.approx(roc_auc_score(y, s, multi_class="ovr", average="weighted"))


def test_fill_records_every_value_and_where_it_came_from():
    from fmreview.zoo.protocols import ProtocolError, Resolved, fill

    spec = schema.ProtocolSpec.model_validate({"input_size": 96, "resize": "shortest-edge",
                                               "head": {"kind": "linear", "optimiser": "adamw", "epochs": 7,
                                                        "early_stopping": "patience 5"},
                                               "seeds": [3, 4], "averaging": "weighted"})
    res = fill(Resolved("x", "named", spec), "linear-probe", checkpoint_pre={"mean": (0.1, 0.2, 0.3)},
               model_pre={"size": 32, "mean": (0.5,) * 3, "std": (0.5,) * 3}, metric="auc")
    u, src = res.used, res.provenance
    assert (u["size"], src["size"]) == (96, "protocol") and (u["crop"], src["crop"]) == ("center", "zoo default")
    assert (u["mean"], src["mean"]) == ([0.1, 0.2, 0.3], "catalog checkpoint")
    assert (u["std"], src["std"]) == ([0.5, 0.5, 0.5], "checkpoint config")
    assert (u["head.optimiser"], u["head.epochs"], src["head.learning_rate"]) == ("adamw", 7, "zoo default")
    assert u["seeds"] == [3, 4] and u["averaging"] == "weighted" and res.not_applied == ["head.early_stopping"]
    rec = res.record()
    assert rec["id"] == "x" and rec["stated"]["head"]["epochs"] == 7 and rec["used"]["head.epochs"] == 7
    with pytest.raises(ProtocolError, match="trains the backbone end to end"):
        fill(Resolved(None, "inline", schema.ProtocolSpec.model_validate({"backbone": "trained"})),
             "linear-probe", checkpoint_pre={}, model_pre={}, metric="auc")
    with pytest.raises(ProtocolError, match="has a knn head, but the result is re-run by the linear-probe recipe"):
        fill(Resolved(None, "inline", schema.ProtocolSpec.model_validate({"head": {"kind": "knn"}})),
             "linear-probe", checkpoint_pre={}, model_pre={}, metric="auc")


# ----------------------------------------------------------------------------------------- verify end to end


@pytest.fixture(scope="module")
def timm_ckpt(tmp_path_factory):
    return Z.timm_vit(tmp_path_factory.mktemp("timm") / "ckpt")


RESULTS = """
    source:
      paper: clip-2021
      url: https://example.org/tiny
    results:
    - id: tiny-named
      model: tiny
      dataset: colours
      task: classification
      metric: balanced-accuracy
      value: 100
      unit: percent
      setting: linear-probe
      protocol: tiny-sgd
      locator: Table 1
    - id: tiny-none
      model: tiny
      dataset: colours
      task: classification
      metric: balanced-accuracy
      value: 0.2
      unit: fraction
      setting: linear-probe
      condition: a wrong value with no protocol
      locator: Table 1
    - id: tiny-knn
      model: tiny
      dataset: colours
      task: classification
      metric: accuracy
      value: 1.0
      unit: fraction
      setting: knn
      protocol: {head: {kind: knn, k: 3, weighting: uniform}}
      locator: Table 1
"""
PROTOCOL = """
    id: tiny-sgd
    name: Tiny SGD probe
    sources:
    - url: https://example.org/tiny
      locator: Table 1
    input_size: 32
    resize: shortest-edge
    crop: center
    mean: [0.5, 0.5, 0.5]
    std: [0.25, 0.25, 0.25]
    head:
      kind: linear
      optimiser: sgd
      epochs: 40
      learning_rate: 0.05
      batch_size: 8
      weight_decay: 0.0
      schedule: cosine
      patience: 5
      monitor: accuracy
    seeds: [0, 1]
"""


def tiny_catalog(root: Path, fmt: str = "timm", classes: int | None = None) -> Path:
    cat = Z.catalog(root, "tiny", fmt)
    (cat / "results" / "tiny.yaml").unlink()
    (cat / "results" / "tiny.yaml").write_text(textwrap.dedent(RESULTS).lstrip())
    (cat / "protocols").mkdir(exist_ok=True)
    (cat / "protocols" / "tiny-sgd.yaml").write_text(textwrap.dedent(PROTOCOL).lstrip())
    if classes:
        ds = cat / "datasets" / "colours.yaml"
        ds.write_text(ds.read_text() + f"classes: {classes}\n")
    return cat


def _verify(cat, ckpt, data, records, result, *extra):
    return main(["zoo", "verify", "tiny", "--catalog", str(cat), "--checkpoint", f"local-dir:{ckpt}", "--data",
                 str(data), "--records", str(records), "--result", result, "--device", "cpu", "--bootstrap", "50",
                 *extra])


def test_verify_honours_a_named_protocol_and_records_it(timm_ckpt, tmp_path, capsys):
    cat = tiny_catalog(tmp_path / "catalog")
    assert main(["catalog", "validate", "--catalog", str(cat)]) == 0
    data = Z.colour_npz(tmp_path / "c.npz", n_train=4, n_test=3, size=40)  # 40 px: resized and cropped to 32
    assert _verify(cat, timm_ckpt, data, tmp_path / "rec", "tiny-named", "--quiet") == 0
    assert "-> REPRODUCED" in capsys.readouterr().out
    rec = json.loads(next((tmp_path / "rec").glob("tiny-named*.json")).read_text())
    p = rec["protocol"]
    assert p["id"] == "tiny-sgd" and p["origin"] == "named" and p["file"] == "protocols/tiny-sgd.yaml"
    assert p["used"]["size"] == 32 and p["used"]["resize"] == "shortest-edge" and p["used"]["std"] == [0.25] * 3
    assert p["used"]["head.optimiser"] == "sgd" and p["used"]["head.epochs"] == 40 and p["used"]["seeds"] == [0, 1]
    assert p["provenance"]["size"] == "protocol" and p["stated"]["head"]["learning_rate"] == 0.05
    assert p["used"]["head.patience"] == 5 and p["not_applied"] == []  # the .npz has a val split to stop on
    assert len(rec["runs"]) == 2 and rec["reproduced"] == pytest.approx(np.mean(rec["runs"]))
    assert rec["verdict"] == "reproduced"


def test_no_protocol_is_indicative_never_not_reproduced(timm_ckpt, tmp_path, capsys):
    cat = tiny_catalog(tmp_path / "catalog")
    data = Z.colour_npz(tmp_path / "c.npz", n_train=4, n_test=3)
    assert _verify(cat, timm_ckpt, data, tmp_path / "rec", "tiny-none") == 0
    out = capsys.readouterr()
    # reported 0.2, reproduced 1.0 with a tight CI: a known protocol would say "not reproduced"
    assert "-> INDICATIVE" in out.out and "NOT REPRODUCED" not in out.out
    assert "states no protocol" in out.out and "indicative only" in out.err
    rec = json.loads(next((tmp_path / "rec").glob("tiny-none*.json")).read_text())
    assert rec["verdict"] == "indicative" and rec["protocol"]["origin"] == "unknown" and rec["protocol"]["id"] is None
    assert rec["protocol"]["provenance"]["head.kind"] == "zoo default"
    assert rec["protocol"]["used"]["head.kind"] == "logistic-regression"
    assert _verify(cat, timm_ckpt, data, tmp_path / "rec", "tiny-none", "--quiet", "--strict") == 3
    capsys.readouterr()
    assert main(["zoo", "status", "--records", str(tmp_path / "rec"), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r.get("verdict") == "indicative" for r in rows)
    from fmreview.zoo.records import load_records

    assert load_records(tmp_path / "rec")["protocol"].tolist() == [None]


def test_knn_and_linear_probe_share_cached_features(timm_ckpt, tmp_path, monkeypatch):
    from fmreview.catalog import load
    from fmreview.zoo import recipes
    from fmreview.zoo.verify import verify

    cat = load(tiny_catalog(tmp_path / "catalog"))
    data = Z.colour_npz(tmp_path / "c.npz", n_train=4, n_test=3)
    cache = tmp_path / "features"
    kw = dict(data=data, checkpoint=f"local-dir:{timm_ckpt}", records=tmp_path / "rec", n_boot=20, device="cpu",
              feature_cache=cache)
    first = verify(cat, "tiny", result_id="tiny-none", **kw)  # zoo default preprocessing
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2 and all(f.endswith(".npy") for f in files)  # train and test
    calls = []
    real = recipes.features
    monkeypatch.setattr(recipes, "features", lambda *a, **k: calls.append(1) or real(*a, **k))
    second = verify(cat, "tiny", result_id="tiny-knn", **kw)  # same checkpoint x data x preprocessing: no encoder
    assert calls == [] and second["verdict"] == "reproduced" and first["n"] == second["n"]
    verify(cat, "tiny", result_id="tiny-named", **kw)  # another preprocessing (its std): its own features
    assert len(calls) == 3 and len(list(cache.iterdir())) == 5  # train, test and val (early stopping)
    assert not [p for p in cache.iterdir() if not p.name.endswith(".npy")]  # nothing half-written left


def test_a_class_count_that_differs_from_the_catalog_is_refused(timm_ckpt, tmp_path, capsys):
    cat = tiny_catalog(tmp_path / "catalog", classes=4)
    data = Z.colour_npz(tmp_path / "c.npz", n_train=2, n_test=2)
    records = tmp_path / "rec"
    assert _verify(cat, timm_ckpt, data, records, "tiny-named", "--quiet") == 1
    err = capsys.readouterr().err
    assert "the train split has 3 classes (labels 0, 1, 2), but colours for result 'tiny-named' has 4" in err
    assert "datasets/colours.yaml classes" in err and "Traceback" not in err
    assert not records.exists()


def test_a_misstated_checkpoint_format_is_refused_naming_both(tmp_path, capsys):
    ckpt = Z.vit(tmp_path / "vit")  # a transformers folder
    cat = tiny_catalog(tmp_path / "catalog", fmt="timm")  # the catalog says timm
    data = Z.colour_npz(tmp_path / "c.npz", n_train=2, n_test=2)
    records = tmp_path / "rec"
    records.mkdir()
    (records / "kept.json").write_text("{}")
    assert _verify(cat, ckpt, data, records, "tiny-named", "--quiet") == 1
    err = capsys.readouterr().err
    assert "format timm" in err.replace("in timm format", "format timm") and "transformers" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in records.iterdir()) == ["kept.json"]


def test_a_protocol_head_that_does_not_fit_the_recipe_is_refused(timm_ckpt, tmp_path, capsys):
    cat = tiny_catalog(tmp_path / "catalog")
    res = cat / "results" / "tiny.yaml"
    res.write_text(res.read_text().replace("protocol: {head: {kind: knn, k: 3, weighting: uniform}}",
                                           "protocol: tiny-sgd"))
    assert _verify(cat, timm_ckpt, Z.colour_npz(tmp_path / "c.npz", 2, 2), tmp_path / "rec", "tiny-knn",
                   "--quiet") == 1
    assert "protocol 'tiny-sgd' has a linear head, but the result is re-run by the knn recipe" in \
        capsys.readouterr().err


def test_zero_shot_negative_pair_and_logit_scale(tmp_path):
    from transformers import AutoTokenizer

    from fmreview.zoo.loading import load_model
    from fmreview.zoo.recipes import zero_shot_classification

    d = Z.clip(tmp_path / "clip")
    net, tok = load_model(d, "transformers"), AutoTokenizer.from_pretrained(d)
    x, _ = Z.colour_images(2, 32)
    kw = dict(batch_size=4, device="cpu")
    pair = zero_shot_classification(net, tok, x, ["red", "blue"], ["{}"], negative_templates=["dark {}"],
                                    logit_scale=1.0, **kw)
    assert pair.shape == (6, 2) and np.allclose(pair.sum(1), 1)
    img = torch.nn.functional.normalize(torch.as_tensor(
        __import__("fmreview.zoo.recipes", fromlist=["features"]).features(
            net, x, mean=(0.48145466, 0.4578275, 0.40821073), std=(0.26862954, 0.26130258, 0.27577711), **kw)),
        dim=-1)

    def text(prompts):
        t = tok(prompts, padding=True, return_tensors="pt")
        e = net.get_text_features(input_ids=t["input_ids"], attention_mask=t["attention_mask"])
        e = torch.nn.functional.normalize(getattr(e, "pooler_output", e).float(), dim=-1)
        return torch.nn.functional.normalize(e.mean(0), dim=-1)

    with torch.no_grad():
        pos = torch.stack([text(["red"]), text(["blue"])])
        neg = torch.stack([text(["dark red"]), text(["dark blue"])])
        p = torch.sigmoid(img @ pos.T - img @ neg.T)  # softmax over a pair = sigmoid of the difference
    expected = (p / p.sum(1, keepdim=True)).numpy()
    assert np.allclose(pair, expected, atol=1e-5)
    scaled = zero_shot_classification(net, tok, x, ["red", "blue"], ["{}"], negative_templates=["dark {}"],
                                      logit_scale=100.0, **kw)
    assert not np.allclose(scaled, pair)


def test_box_prompt_mask_selection(tmp_path):
    from fmreview.zoo.loading import load_model
    from fmreview.zoo.recipes import promptable_segmentation

    net = load_model(Z.sam(tmp_path / "sam"), "transformers")
    imgs, masks = Z.box_masks(3, 48)
    single, keep = promptable_segmentation(net, imgs, masks, batch_size=2, device="cpu", mask_selection="single")
    multi, _ = promptable_segmentation(net, imgs, masks, batch_size=2, device="cpu",
                                       mask_selection="multimask-highest-iou")
    assert single.shape == multi.shape == (3, 48, 48) and keep == [0, 1, 2]
    # the multimask choice is SAM's own: the mask with the highest predicted IoU of its three
    import torch.nn.functional as F

    from fmreview.zoo.recipes import IMAGENET_MEAN, IMAGENET_STD, box_from_mask

    x = preprocess(imgs, 64, IMAGENET_MEAN, IMAGENET_STD, "longest-edge")
    boxes = torch.tensor([[list(np.array(box_from_mask(m), float) * 64 / 48)] for m in masks], dtype=torch.float32)
    with torch.no_grad():
        out = net(pixel_values=x, input_boxes=boxes, multimask_output=True)
    best = out.iou_scores[:, 0].argmax(-1)
    low = out.pred_masks[:, 0][torch.arange(3), best][:, None]
    up = F.interpolate(F.interpolate(low, size=(64, 64), mode="bilinear", align_corners=False)[..., :64, :64],
                       size=(48, 48), mode="bilinear", align_corners=False)[:, 0] > 0
    assert np.array_equal(multi, up.numpy())
    with pytest.raises(ValueError, match="mask_selection 'best'"):
        promptable_segmentation(net, imgs, masks, batch_size=2, device="cpu", mask_selection="best")
