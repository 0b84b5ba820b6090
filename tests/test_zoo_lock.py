"""``fmreview zoo lock`` against the loopback hub: the commit and every file's sha256 and size are resolved
through huggingface_hub (LFS metadata for the weights, a download for plain files), written into the catalog in
canonical form changing nothing else, all or nothing; fetch then asks for that commit and refuses other bytes."""

import difflib
import hashlib
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("huggingface_hub")

from fmreview.catalog import load  # noqa: E402
from fmreview.reports.cli import main  # noqa: E402
from fmreview.zoo.download import DownloadError, fetch  # noqa: E402

from hubserver import Hub  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import tiny_zoo  # noqa: E402

# bytes that stand in for a checkpoint: lock never loads them (the evidence tests run a real one)
FILES = {"config.json": b'{"model_type": "vit", "hidden_size": 32}\n', "preprocessor_config.json": b'{"size": 32}\n',
         "model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " + bytes(range(200)),
         "pytorch_model.bin": b"a pickle copy of the weights", "README.md": b"# card\n"}
SAM = {"config.json": b'{"model_type": "sam"}\n', "model.safetensors": b"sam weights" * 10}


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with Hub() as h:
        h.add("test/tinyvit", FILES)
        h.add("facebook/sam-vit-huge", SAM)
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        yield h


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_catalog(root: Path, listed: dict[str, bytes] | None, capsys) -> Path:
    """The mini catalog plus the demo's tinyvit entry (listing ``listed`` with sha256, or no files), in
    canonical form."""
    from conftest import write_catalog

    write_catalog(root)
    tiny_zoo.catalog(root, listed or {"x": b""}, repo_id="test/tinyvit")
    if listed is None:  # an entry that names only the repository, as most real ones do
        p = root / "models" / "tinyvit.yaml"
        text = p.read_text()
        start = text.index("  files:")
        p.write_text(text[:start] + text[text.index("sources:"):])
    assert main(["catalog", "fmt", "--catalog", str(root)]) == 0
    capsys.readouterr()
    return root


def lock(capsys, *argv):
    code = main(["zoo", "lock", *argv, "--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def changed_lines(old: str, new: str) -> list[str]:
    return [ln for ln in difflib.ndiff(old.splitlines(), new.splitlines()) if ln[:2] in ("- ", "+ ")]


def test_lock_pins_commit_and_files_and_changes_nothing_else(hub, tmp_path, capsys):
    cat = make_catalog(tmp_path / "catalog", None, capsys)
    entry = cat / "models" / "tinyvit.yaml"
    before = entry.read_text()
    others = {p: p.read_bytes() for p in cat.rglob("*.yaml") if p != entry}
    code, out, err = lock(capsys, "tinyvit", "--catalog", str(cat))
    assert code == 0, err
    commit = hub.commits["test/tinyvit"]
    assert f"test/tinyvit@{commit}: 3 files" in out and "files chosen by the zoo" in out
    after = entry.read_text()
    # only the checkpoint's revision and files changed
    diff = changed_lines(before, after)
    assert diff and all(re.match(r"^\+ {2,}(revision: |files:|- path: |path: |sha256: |size: )", ln) for ln in diff), diff
    doc, old = yaml.safe_load(after), yaml.safe_load(before)
    ck = doc["checkpoints"][0]
    assert ck["revision"] == commit
    want = {"config.json", "preprocessor_config.json", "model.safetensors"}  # configs + one copy of the weights
    assert {f["path"] for f in ck["files"]} == want
    for f in ck["files"]:
        assert f["sha256"] == sha(FILES[f["path"]]) and f["size"] == len(FILES[f["path"]])
    del ck["revision"], ck["files"]
    assert doc == old
    assert {p: p.read_bytes() for p in cat.rglob("*.yaml") if p != entry} == others
    # model_info was asked with blobs=True; the LFS weights' sha256 came from the metadata, the plain files were
    # downloaded at the commit and hashed
    assert ("GET", "/api/models/test/tinyvit?blobs=true") in hub.requests
    gets = {path for m, path in hub.requests if m == "GET" and "/resolve/" in path}
    assert gets == {f"/test/tinyvit/resolve/{commit}/config.json",
                    f"/test/tinyvit/resolve/{commit}/preprocessor_config.json"}
    assert main(["catalog", "validate", "--catalog", str(cat)]) == 0
    assert main(["catalog", "fmt", "--check", "--catalog", str(cat)]) == 0
    capsys.readouterr()
    # locking again asks for the pinned commit and changes nothing
    code, out, _ = lock(capsys, "tinyvit", "--catalog", str(cat))
    assert code == 0 and "already locked" in out and entry.read_text() == after
    assert ("GET", f"/api/models/test/tinyvit/revision/{commit}?blobs=true") in hub.requests


def test_lock_keeps_the_files_the_catalog_lists_and_their_order(hub, tmp_path, capsys):
    listed = {n: FILES[n] for n in ("model.safetensors", "config.json")}
    cat = make_catalog(tmp_path / "catalog", listed, capsys)
    code, out, err = lock(capsys, "tinyvit", "--catalog", str(cat), "--format", "json")
    assert code == 0, err
    row = json.loads(out)[0]
    assert row["files"] == 2 and row["files_chosen_by_zoo"] is False and row["changed"] is True
    ck = yaml.safe_load((cat / "models" / "tinyvit.yaml").read_text())["checkpoints"][0]
    assert [f["path"] for f in ck["files"]] == ["config.json", "model.safetensors"]
    assert all(f["size"] == len(FILES[f["path"]]) for f in ck["files"])


def test_fetch_uses_the_locked_commit_after_the_repository_moves_on(hub, tmp_path, capsys):
    cat = make_catalog(tmp_path / "catalog", None, capsys)
    assert lock(capsys, "tinyvit", "--catalog", str(cat))[0] == 0
    old_commit = hub.commits["test/tinyvit"]
    moved = dict(FILES, **{"model.safetensors": FILES["model.safetensors"] + b"retrained"})
    assert hub.add("test/tinyvit", moved) != old_commit  # main now points elsewhere
    ck = load(cat).raw.models["tinyvit"].record.checkpoints[0]
    got = fetch(ck, cache_dir=tmp_path / "hf-cache")
    assert got.revision == old_commit and got.pinned is True
    assert (got.path / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    asked = [path for m, path in hub.requests if "/resolve/" in path and path.endswith("model.safetensors")]
    assert asked and all(f"/resolve/{old_commit}/" in p for p in asked)


def test_fetch_refuses_bytes_that_differ_from_the_lock(hub, tmp_path, capsys):
    """The hub's LFS metadata claims one sha256 and serves other bytes: lock pins the claim, fetch refuses the
    bytes and leaves nothing in the cache; a size that differs from the pin is refused the same way."""
    cat = make_catalog(tmp_path / "catalog", None, capsys)
    hub.lfs_sha256_override[("test/tinyvit", "model.safetensors")] = "ab" * 32
    assert lock(capsys, "tinyvit", "--catalog", str(cat))[0] == 0
    ck = load(cat).raw.models["tinyvit"].record.checkpoints[0]
    assert {f.path: f.sha256 for f in ck.files}["model.safetensors"] == "ab" * 32
    with pytest.raises(DownloadError, match="model.safetensors: sha256 .* does not match the catalog's abab.*removed"):
        fetch(ck, cache_dir=tmp_path / "hf-cache")
    left = [p for p in (tmp_path / "hf-cache").rglob("*") if p.is_file()
            and p.stat().st_size == len(FILES["model.safetensors"])]
    assert left == []
    files = [f.model_copy(update={"size": f.size + 1} if f.path == "config.json" else {}) for f in ck.files]
    with pytest.raises(DownloadError, match=r"config.json: \d+ bytes where the catalog pins \d+"):
        fetch(ck.model_copy(update={"files": files}), cache_dir=tmp_path / "hf-cache2")


def test_lock_all_is_all_or_nothing(hub, tmp_path, capsys):
    cat = make_catalog(tmp_path / "catalog", None, capsys)
    before = {p: p.read_bytes() for p in cat.rglob("*.yaml")}
    hub.repos.pop("facebook/sam-vit-huge")  # one repository of two is gone
    code, out, err = lock(capsys, "--all", "--catalog", str(cat))
    assert code == 1 and "Traceback" not in err
    assert "sam: facebook/sam-vit-huge: no such repository" in err and "nothing was written" in err
    assert {p: p.read_bytes() for p in cat.rglob("*.yaml")} == before
    hub.add("facebook/sam-vit-huge", SAM)
    code, out, err = lock(capsys, "--all", "--catalog", str(cat))
    assert code == 0, err
    assert "2 checkpoints resolved; 2 catalog files changed" in out
    sam = yaml.safe_load((cat / "models" / "sam.yaml").read_text())["checkpoints"][0]
    assert sam["revision"] == hub.commits["facebook/sam-vit-huge"]
    assert {f["path"]: f["sha256"] for f in sam["files"]} == {n: sha(b) for n, b in SAM.items()}


def test_gated_repo_without_a_token(hub, tmp_path, capsys):
    cat = make_catalog(tmp_path / "catalog", None, capsys)
    hub.gated.add("test/tinyvit")
    before = {p: p.read_bytes() for p in cat.rglob("*.yaml")}
    code, out, err = lock(capsys, "tinyvit", "--catalog", str(cat))
    assert code == 1 and "Traceback" not in err
    assert "test/tinyvit is gated: request access at https://huggingface.co/test/tinyvit" in err
    assert "set HF_TOKEN (or pass --token)" in err and "nothing was written" in err
    assert {p: p.read_bytes() for p in cat.rglob("*.yaml")} == before
    assert not any("/resolve/" in path for _, path in hub.requests)  # stopped before any download
    code, out, err = lock(capsys, "tinyvit", "--catalog", str(cat), "--token", "hf_loopback")
    assert code == 0, err
    assert yaml.safe_load((cat / "models" / "tinyvit.yaml").read_text())["checkpoints"][0]["revision"] \
        == hub.commits["test/tinyvit"]


def test_conflicting_pin_noncanonical_file_dry_run_and_bad_arguments(hub, tmp_path, capsys):
    stale = dict(FILES, **{"model.safetensors": b"what the catalog pinned once"})
    cat = make_catalog(tmp_path / "catalog", {n: stale[n] for n in ("config.json", "model.safetensors")}, capsys)
    entry = cat / "models" / "tinyvit.yaml"
    before = entry.read_bytes()
    code, _, err = lock(capsys, "tinyvit", "--catalog", str(cat))
    assert code == 1 and f"model.safetensors has sha256 {sha(FILES['model.safetensors'])}, the catalog pins " \
        f"{sha(stale['model.safetensors'])}" in err and entry.read_bytes() == before

    cat2 = make_catalog(tmp_path / "catalog2", None, capsys)
    e2 = cat2 / "models" / "tinyvit.yaml"
    e2.write_text("# a comment the canonical writer would drop\n" + e2.read_text())
    before2 = e2.read_bytes()
    code, _, err = lock(capsys, "tinyvit", "--catalog", str(cat2))
    assert code == 1 and "models/tinyvit.yaml is not in canonical form" in err and "catalog fmt" in err
    assert e2.read_bytes() == before2

    assert main(["catalog", "fmt", "--catalog", str(cat2)]) == 0
    capsys.readouterr()
    before3 = e2.read_bytes()
    code, out, _ = lock(capsys, "tinyvit", "--catalog", str(cat2), "--dry-run")
    assert code == 0 and "would change" in out and e2.read_bytes() == before3

    import huggingface_hub.constants as C

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(C, "HF_HUB_OFFLINE", True)
        code, _, err = lock(capsys, "tinyvit", "--catalog", str(cat2))
        assert code == 1 and "HF_HUB_OFFLINE is set" in err and e2.read_bytes() == before3

    for argv, msg in ((["--catalog", str(cat2)], "give a model id or --all"),
                      (["tinyvit", "--all", "--catalog", str(cat2)], "give a model id or --all"),
                      (["tinyvitt", "--catalog", str(cat2)], "no model 'tinyvitt' in the catalog; did you mean 'tinyvit'"),
                      (["medsam", "--catalog", str(cat2)], "medsam: the catalog lists no Hugging Face checkpoint")):
        code, _, err = lock(capsys, *argv)
        assert code == 1 and msg in err and "Traceback" not in err


def test_verify_after_lock_runs_on_the_locked_bytes(hub, tmp_path, capsys):
    """A real checkpoint (transformers save_pretrained), locked, then the repository's main moves to broken
    weights: zoo verify still fetches the locked commit, loads it, and its record names that commit and the
    pinned sha256."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import zoo_fixtures as Z

    real = Z.files(Z.vit(tmp_path / "vit"))
    hub.add("test/tinyvit", real)
    cat = make_catalog(tmp_path / "catalog", None, capsys)
    assert lock(capsys, "tinyvit", "--catalog", str(cat))[0] == 0
    locked = hub.commits["test/tinyvit"]
    hub.add("test/tinyvit", dict(real, **{"model.safetensors": b"not weights at all"}))
    data = tiny_zoo.synthetic_medmnist(tmp_path / "synth.npz")
    records = tmp_path / "records"
    code = main(["zoo", "verify", "tinyvit", "--catalog", str(cat), "--data", str(data), "--records", str(records),
                 "--device", "cpu", "--bootstrap", "50", "--result", "tinyvit-probe-ok", "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.err
    rec = json.loads(next(records.glob("*.json")).read_text())
    pinned = {f["path"]: f["sha256"]
              for f in yaml.safe_load((cat / "models" / "tinyvit.yaml").read_text())["checkpoints"][0]["files"]}
    assert rec["checkpoint_revision"] == locked and rec["checkpoint_pinned"] is True
    assert rec["checkpoint_sha256"] == pinned
    assert pinned["model.safetensors"] == sha(real["model.safetensors"])
    resolved = [p for m, p in hub.requests if "/resolve/" in p]
    assert resolved and all(f"/resolve/{locked}/" in p for p in resolved)
