"""The reference zoo against a loopback hub: download, cache, offline, dropped connections, corrupted files,
gated and unknown repos; metrics against scikit-learn and hand-computed cases; verify end to end."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from fmreview.catalog.schema import Checkpoint  # noqa: E402
from fmreview.reports.cli import main  # noqa: E402
from fmreview.zoo import metrics as M  # noqa: E402
from fmreview.zoo.download import DownloadError, fetch  # noqa: E402

from hubserver import Hub  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import tiny_zoo  # noqa: E402  (the README's demo, shared with the test)
from tiny_zoo import synthetic_medmnist  # noqa: E402


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32,
                    patch_size=8, num_channels=3)
    d = tmp_path_factory.mktemp("tinyvit")
    ViTModel(cfg, add_pooling_layer=False).save_pretrained(d, safe_serialization=True)
    return {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}


@pytest.fixture
def hub(tiny_vit, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with Hub() as h:
        h.add("test/tinyvit", tiny_vit)
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        yield h


def checkpoint(files, repo="test/tinyvit", sha=True, revision=None):
    return Checkpoint(hub="huggingface", repo_id=repo, revision=revision, format="transformers",
                      files=[{"path": n, "sha256": hashlib.sha256(b).hexdigest() if sha else None}
                             for n, b in sorted(files.items())])


def cache_dir(tmp_path):
    return tmp_path / "hf-cache"


def test_download_then_cache_hit(hub, tiny_vit, tmp_path):
    got = fetch(checkpoint(tiny_vit), cache_dir=cache_dir(tmp_path))
    assert (got.path / "model.safetensors").read_bytes() == tiny_vit["model.safetensors"]
    assert got.revision == hub.commits["test/tinyvit"]
    gets = sum(1 for m, _ in hub.requests if m == "GET")
    fetch(checkpoint(tiny_vit, revision=hub.commits["test/tinyvit"]), cache_dir=cache_dir(tmp_path))
    assert sum(1 for m, _ in hub.requests if m == "GET") == gets  # pinned commit in cache: no file request


def test_offline_mode_uses_the_cache_and_fails_clearly_without_it(hub, tiny_vit, tmp_path, monkeypatch):
    fetch(checkpoint(tiny_vit), cache_dir=cache_dir(tmp_path))
    import huggingface_hub.constants as C

    monkeypatch.setattr(C, "HF_HUB_OFFLINE", True)
    n = len(hub.requests)
    got = fetch(checkpoint(tiny_vit), cache_dir=cache_dir(tmp_path))
    assert (got.path / "config.json").exists() and len(hub.requests) == n
    with pytest.raises(DownloadError, match="not in the local cache"):
        fetch(checkpoint(tiny_vit), cache_dir=tmp_path / "empty-cache")


def test_connection_dropped_mid_file_is_retried(hub, tiny_vit, tmp_path):
    hub.drop_next = 1
    got = fetch(checkpoint(tiny_vit), cache_dir=cache_dir(tmp_path))
    assert (got.path / "model.safetensors").read_bytes() == tiny_vit["model.safetensors"]


def test_connection_that_always_drops_fails_and_leaves_nothing(hub, tiny_vit, tmp_path):
    hub.drop_next = 100
    with pytest.raises(DownloadError, match="download failed after 3 attempts"):
        fetch(checkpoint(tiny_vit), cache_dir=cache_dir(tmp_path), retries=3)
    snaps = list(cache_dir(tmp_path).rglob("snapshots/*/*"))
    assert not any(p.name == "model.safetensors" and p.exists() for p in snaps)


def test_corrupted_file_is_refused_and_removed(hub, tiny_vit, tmp_path):
    bad = dict(tiny_vit)
    bad["model.safetensors"] = tiny_vit["model.safetensors"][:-8] + b"XXXXXXXX"
    hub.add("test/corrupt", bad)
    with pytest.raises(DownloadError, match="sha256 .* does not match .* removed from the cache"):
        fetch(checkpoint(tiny_vit, repo="test/corrupt"), cache_dir=cache_dir(tmp_path))
    left = [p for p in cache_dir(tmp_path).rglob("*") if p.is_file() and p.stat().st_size == len(bad["model.safetensors"])]
    assert left == []


def test_gated_and_unknown_repos_give_clear_messages(hub, tiny_vit, tmp_path):
    hub.add("test/gated", tiny_vit)
    hub.gated.add("test/gated")
    with pytest.raises(DownloadError, match="gated: request access at https://huggingface.co/test/gated"):
        fetch(checkpoint(tiny_vit, repo="test/gated"), cache_dir=cache_dir(tmp_path))
    got = fetch(checkpoint(tiny_vit, repo="test/gated"), cache_dir=cache_dir(tmp_path), token="hf_test")
    assert (got.path / "config.json").exists()
    with pytest.raises(DownloadError, match="test/nothing: no such repository"):
        fetch(checkpoint(tiny_vit, repo="test/nothing"), cache_dir=cache_dir(tmp_path))


def test_local_dir_checkpoints(tiny_vit, tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    for n, b in tiny_vit.items():
        (d / n).write_bytes(b)
    got = fetch(checkpoint(tiny_vit), local=f"local-dir:{d}")
    assert got.path == d and set(got.sha256) == set(tiny_vit)
    (d / "model.safetensors").write_bytes(b"tampered")
    with pytest.raises(DownloadError, match="does not match"):
        fetch(checkpoint(tiny_vit), local=f"local-dir:{d}")


def test_weights_only_loading_refuses_pickled_code(tmp_path):
    from fmreview.zoo.loading import LoadError, load_state_dict

    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    p = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, p)
    with pytest.raises(LoadError, match="weights_only=True"):
        load_state_dict(p)
    ok = tmp_path / "ok.pt"
    torch.save({"w": torch.ones(2)}, ok)
    assert torch.equal(load_state_dict(ok)["w"], torch.ones(2))


# ------------------------------------------------------------------------------------------------ metrics


def test_auc_and_balanced_accuracy_match_scikit_learn():
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(y, 1.0), 1)  # ties on purpose
    assert M.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    y3, p3 = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    assert M.balanced_accuracy(y3, p3) == pytest.approx(balanced_accuracy_score(y3, p3), abs=1e-12)
    scores = rng.dirichlet(np.ones(3), 300)
    assert M.macro_auc(y3, scores) == pytest.approx(roc_auc_score(y3, scores, multi_class="ovr", average="macro"), abs=1e-12)


def test_dice_and_nsd_by_hand():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[2:6, 2:6] = True  # 16 px
    b[2:6, 2:8] = True  # 24 px, overlap 16
    assert M.dice(a, b) == pytest.approx(2 * 16 / 40)
    assert M.dice(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0
    assert M.nsd(a, a) == 1.0 and M.nsd(a, np.zeros_like(a)) == 0.0
    assert 0 < M.nsd(a, b, tolerance=1) < 1


def test_oom_halves_the_batch():
    from fmreview.zoo.device import batched

    seen = []

    def fn(chunk):
        if len(chunk) > 4:
            raise torch.cuda.OutOfMemoryError("fake")
        seen.append(len(chunk))
        return chunk

    out, bs = batched(fn, list(range(10)), 16, "cpu")
    assert bs == 4 and sum(len(o) for o in out) == 10 and seen == [4, 4, 2]


# ------------------------------------------------------------------------------------------ end to end


DEMO_PROTOCOL = """\
id: demo-logistic
name: Demo logistic-regression probe
sources:
- url: https://example.org/demo
  locator: demo
head:
  kind: logistic-regression
"""


def zoo_catalog(root: Path, tiny_vit, named: bool = True) -> Path:
    """The mini catalog plus the README demo's entries (tinyvit on the loopback hub, two results, each with an
    inline protocol). With ``named`` the first result names a protocol (protocols/demo-logistic.yaml) instead."""
    from conftest import write_catalog

    write_catalog(root)
    cat = tiny_zoo.catalog(root, tiny_vit, repo_id="test/tinyvit")
    if named:
        (cat / "protocols").mkdir(exist_ok=True)
        (cat / "protocols" / "demo-logistic.yaml").write_text(DEMO_PROTOCOL)
        res = cat / "results" / "demo-2024.yaml"
        inline = "  protocol:\n    head: {kind: logistic-regression}\n"
        assert inline in res.read_text()
        res.write_text(res.read_text().replace(inline, "  protocol: demo-logistic\n", 1))
    return cat


def test_verify_end_to_end(hub, tiny_vit, tmp_path, capsys):
    cat = zoo_catalog(tmp_path / "catalog", tiny_vit)
    assert main(["catalog", "validate", "--catalog", str(cat)]) == 0
    data = synthetic_medmnist(tmp_path / "synthmnist.npz")
    records = tmp_path / "records"
    base = ["zoo", "verify", "tinyvit", "--catalog", str(cat), "--data", str(data), "--records", str(records),
            "--device", "cpu", "--batch-size", "16", "--bootstrap", "200", "--quiet"]
    capsys.readouterr()
    assert main(base + ["--result", "tinyvit-probe-ok"]) == 0
    assert "-> REPRODUCED" in capsys.readouterr().out
    assert main(base + ["--result", "tinyvit-probe-wrong"]) == 0
    assert "-> NOT REPRODUCED" in capsys.readouterr().out
    assert main(base + ["--result", "tinyvit-probe-ok", "--limit", "10"]) == 0
    assert "-> INCONCLUSIVE" in capsys.readouterr().out
    recs = sorted(records.glob("*.json"))
    rec = json.loads(recs[0].read_text())
    for key in ("verdict", "reproduced", "ci_low", "ci_high", "delta", "checkpoint_revision", "checkpoint_sha256",
                "dataset_fingerprint", "packages", "device", "n"):
        assert key in rec
    assert rec["checkpoint_sha256"]["model.safetensors"] == hashlib.sha256(tiny_vit["model.safetensors"]).hexdigest()
    assert rec["checkpoint_pinned"] is True
    assert main(["zoo", "status", "--records", str(records), "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {s["verdict"] for s in status} == {"reproduced", "not reproduced", "inconclusive"}
    assert main(["zoo", "list", "--catalog", str(cat), "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["model"] in ("sam", "tinyvit")
    tv = next(x for x in listed if x["model"] == "tinyvit")
    assert tv["sha256_pinned"] is True and tv["recipes"] == ["linear-probe"]
    assert main(["zoo", "list", "--catalog", str(cat), "--format", "json", "--verifiable"]) == 0
    verifiable = json.loads(capsys.readouterr().out)
    assert "tinyvit" in {x["model"] for x in verifiable}
    assert all(x["recipes"] for x in verifiable)


def test_verify_errors_are_clear(hub, tiny_vit, tmp_path, capsys):
    cat = zoo_catalog(tmp_path / "catalog", tiny_vit)
    assert main(["zoo", "verify", "tinyvit", "--catalog", str(cat), "--quiet"]) == 1
    assert "--data is required" in capsys.readouterr().err
    assert main(["zoo", "verify", "clip", "--catalog", str(cat), "--data", str(tmp_path)]) == 1
    assert "can be re-run by a zoo recipe" in capsys.readouterr().err


def test_results_query_shows_reported_and_reproduced(hub, tiny_vit, tmp_path, capsys):
    cat = zoo_catalog(tmp_path / "catalog", tiny_vit)
    data = synthetic_medmnist(tmp_path / "synthmnist.npz")
    records = tmp_path / "records"
    assert main(["zoo", "verify", "tinyvit", "--catalog", str(cat), "--data", str(data), "--records", str(records),
                 "--result", "tinyvit-probe-wrong", "--bootstrap", "100", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["results", "--catalog", str(cat), "--model", "tinyvit", "--verified", "--records", str(records),
                 "--format", "json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["tinyvit-probe-wrong"]["reported"] == 0.6 and rows["tinyvit-probe-wrong"]["verdict"] == "not reproduced"
    assert "tinyvit-probe-ok" not in rows  # not verified yet: --verified lists results with records only


def test_unpinned_checkpoint_takes_configs_and_one_copy_of_the_weights(hub, tiny_vit, tmp_path, monkeypatch):
    """A catalog entry without files: the repository is listed, configs and the safetensors weights are
    fetched (not the pickle copy, not other frameworks' files), and the result says it was not pinned."""
    repo = dict(tiny_vit)
    repo.update({"pytorch_model.bin": b"pickle copy", "tf_model.h5": b"tf", "README.md": b"# card",
                 "onnx/model.onnx": b"onnx", ".gitattributes": b"*.bin filter=lfs"})
    hub.add("test/unpinned", repo)
    got = fetch(checkpoint({}, repo="test/unpinned"), cache_dir=cache_dir(tmp_path))
    assert sorted(got.sha256) == ["config.json", "model.safetensors"] and got.pinned is False
    assert got.sha256["model.safetensors"] == hashlib.sha256(tiny_vit["model.safetensors"]).hexdigest()
    fetched = {path.rsplit("/", 1)[-1] for m, path in hub.requests if m == "GET" and "/resolve/" in path}
    assert fetched == {"config.json", "model.safetensors"}
    assert fetch(checkpoint(tiny_vit), cache_dir=cache_dir(tmp_path)).pinned is True

    import huggingface_hub.constants as C

    monkeypatch.setattr(C, "HF_HUB_OFFLINE", True)
    n = len(hub.requests)
    again = fetch(checkpoint({}, repo="test/unpinned"), cache_dir=cache_dir(tmp_path))
    assert again.sha256 == got.sha256 and len(hub.requests) == n
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE is set and nothing of it is in the local cache"):
        fetch(checkpoint({}, repo="test/unpinned"), cache_dir=tmp_path / "empty-cache")


def test_unpinned_gated_unknown_and_weightless_repos(hub, tiny_vit, tmp_path):
    hub.add("test/gated2", tiny_vit)
    hub.gated.add("test/gated2")
    with pytest.raises(DownloadError, match="gated: request access"):
        fetch(checkpoint({}, repo="test/gated2"), cache_dir=cache_dir(tmp_path))
    with pytest.raises(DownloadError, match="no such repository"):
        fetch(checkpoint({}, repo="test/absent"), cache_dir=cache_dir(tmp_path))
    hub.add("test/cardonly", {"README.md": b"# card", "config.json": b"{}", "tf_model.h5": b"tf"})
    with pytest.raises(DownloadError, match="no weights in a loadable format .* README.md, config.json, tf_model.h5"):
        fetch(checkpoint({}, repo="test/cardonly"), cache_dir=cache_dir(tmp_path))


def test_choose_files_prefers_safetensors_then_pytorch():
    from fmreview.zoo.download import choose_files

    assert choose_files(["config.json", "pytorch_model.bin", "training_args.bin", "vocab.txt", "sub/x.safetensors"]) \
        == ["config.json", "pytorch_model.bin", "vocab.txt"]
    shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
              "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "tokenizer.json"]
    assert choose_files(shards) == sorted(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                           "model.safetensors.index.json", "tokenizer.json"])


def test_verify_an_unpinned_checkpoint_records_what_it_fetched(hub, tiny_vit, tmp_path, capsys):
    """A real catalog entry often names only the repo: verify lists it, says so, and records the sha256."""
    cat = zoo_catalog(tmp_path / "catalog", tiny_vit)
    entry = cat / "models" / "tinyvit.yaml"
    text = entry.read_text()
    start = text.index("  files:")
    end = text.index("\n", text.rindex("sha256:", start))
    entry.write_text(text[:start] + text[end + 1:])
    assert main(["catalog", "validate", "--catalog", str(cat)]) == 0
    data = synthetic_medmnist(tmp_path / "synthmnist.npz")
    assert main(["zoo", "verify", "tinyvit", "--catalog", str(cat), "--data", str(data), "--records",
                 str(tmp_path / "records"), "--device", "cpu", "--bootstrap", "50", "--result", "tinyvit-probe-ok"]) == 0
    out = capsys.readouterr()
    assert "pins no sha256 for" in out.out + out.err and "-> REPRODUCED" in out.out
    rec = json.loads(next((tmp_path / "records").glob("*.json")).read_text())
    assert rec["checkpoint_pinned"] is False
    assert rec["checkpoint_sha256"] == {n: hashlib.sha256(tiny_vit[n]).hexdigest() for n in tiny_vit}
