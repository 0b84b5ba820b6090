"""``fmreview zoo sweep``: planning from a data root, records, resume, failures, interruption, Ray.

The catalog: the mini catalog (whose results the data root cannot serve); the README demo's tiny ViT (a real
transformers ViT written by save_pretrained, its files pinned) with two linear-probe results on MedMNIST-layout
data and two more (k-NN, linear probe) on an image folder with labels.csv; and a timm ViT written by timm's
save_for_hf (tests/zoo_fixtures.py, files not pinned) with a linear-probe and a k-NN result on colour images in a
folder holding one .npz. Six jobs, three datasets in two layouts, two checkpoints of two libraries."""

import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from fmreview.reports.cli import main  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import tiny_zoo  # noqa: E402

JOBS = {"tinyvit-probe-ok", "tinyvit-probe-wrong", "sweep-knn-img", "sweep-probe-img", "tiny-timm-probe",
        "tiny-timm-knn"}
TINYVIT = ("--model", "tinyvit")  # its four jobs, where the second checkpoint adds nothing but time
KEYS = ["result", "model", "dataset", "status", "verdict", "record"]

EXTRA = {
    "datasets/synthimages.yaml": """
        id: synthimages
        name: Synthetic image folder (sweep test)
        modalities: [pathology]
        tasks: [classification]
        sources:
        - url: https://example.org/demo
          locator: demo
    """,
    "results/sweep-test.yaml": """
        source:
          paper: demo-2024
          url: https://example.org/demo
        results:
        - id: sweep-knn-img
          model: tinyvit
          dataset: synthimages
          task: classification
          metric: balanced-accuracy
          value: 100
          unit: percent
          setting: knn
          locator: demo
        - id: sweep-probe-img
          model: tinyvit
          dataset: synthimages
          task: classification
          metric: accuracy
          value: 1.0
          unit: fraction
          setting: linear-probe
          locator: demo
    """,
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A catalog, a checkpoint root and a data root (one .npz, one image folder), shared by the module."""
    from conftest import write_catalog
    from PIL import Image
    from zoo_fixtures import catalog as fixture_catalog
    from zoo_fixtures import colour_npz, timm_vit
    from zoo_fixtures import files as folder_files

    base = tmp_path_factory.mktemp("sweep")
    files = tiny_zoo.tiny_vit(base / "checkpoints" / "tinyvit")
    timm_files = folder_files(timm_vit(base / "checkpoints" / "tiny-timm"))
    cat = fixture_catalog(base / "catalog", "tiny-timm", "timm")
    write_catalog(cat, EXTRA)
    tiny_zoo.catalog(cat, files, repo_id="test/tinyvit")
    state_protocols(cat)
    data = base / "data"
    data.mkdir()
    tiny_zoo.synthetic_medmnist(data / "synthmnist.npz")
    write_image_folder(data / "synthimages", Image)
    colour_npz(data / "colours" / "colours.npz")
    return {"base": base, "catalog": cat, "checkpoints": base / "checkpoints", "data": data, "files": files,
            "timm_files": timm_files}


def state_protocols(cat: Path) -> None:
    """The demo's two results state a protocol (so their verdicts are checks; the demo may already do so); the
    image-folder results state none (their verdicts are indicative)."""
    res = cat / "results" / "demo-2024.yaml"
    text = res.read_text()
    if "protocol:" not in text:
        res.write_text(text.replace("  setting: linear-probe\n",
                                    "  setting: linear-probe\n  protocol:\n    head: {kind: logistic-regression}\n"))


def write_image_folder(folder: Path, Image) -> None:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["image,label,split"]
    for split, n in (("train", 30), ("test", 20)):
        for i in range(n):
            y = i % 2
            a = (rng.integers(0, 60, (16, 16)) + 150 * y).astype(np.uint8)
            name = f"{split}-{i:03d}.png"
            Image.fromarray(a).save(folder / name)
            rows.append(f"{name},{y},{split}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def sweep(world, records, *extra, data=None, checkpoints=True):
    argv = ["zoo", "sweep", "--catalog", str(world["catalog"]), "--data-root", str(data or world["data"]),
            "--records", str(records), "--device", "cpu", "--batch-size", "16", "--bootstrap", "100"]
    if checkpoints:
        argv += ["--checkpoint-root", str(world["checkpoints"])]
    return main(argv + list(extra))


def run_json(world, records, capsys, *extra, **kw):
    capsys.readouterr()
    rc = sweep(world, records, "--format", "json", *extra, **kw)
    out = capsys.readouterr()
    return rc, {j["result"]: j for j in json.loads(out.out)} if out.out.strip() else {}, out.err


def record_files(records: Path) -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}


def test_local_sweep_runs_every_job_then_a_rerun_skips_them(world, tmp_path, capsys):
    records = tmp_path / "records"
    t0 = time.perf_counter()
    rc, jobs, err = run_json(world, records, capsys)
    first = time.perf_counter() - t0
    assert rc == 0, err
    assert set(jobs) == JOBS
    assert all(list(j) == KEYS for j in jobs.values())
    assert {j["status"] for j in jobs.values()} == {"done"}
    assert jobs["tinyvit-probe-ok"]["verdict"] == "reproduced"
    assert jobs["tinyvit-probe-wrong"]["verdict"] == "not reproduced"
    assert jobs["tiny-timm-probe"]["verdict"] == jobs["tiny-timm-knn"]["verdict"] == "reproduced"
    assert {j["dataset"] for j in jobs.values()} == {"synthmnist", "synthimages", "colours"}
    # every job wrote one verification record, which says what it ran on
    files = record_files(records)
    assert len(files) == 6
    for j in jobs.values():
        rec = json.loads(Path(j["record"]).read_text())
        assert (rec["result"], rec["model"], rec["verdict"]) == (j["result"], j["model"], j["verdict"])
        assert rec["checkpoint_sha256"]["model.safetensors"]
    assert json.loads(Path(jobs["tiny-timm-knn"]["record"]).read_text())["data_source"] == "medmnist:colours.npz:test"
    assert json.loads(Path(jobs["sweep-knn-img"]["record"]).read_text())["recipe"] == "knn"
    assert json.loads(Path(jobs["sweep-knn-img"]["record"]).read_text())["data_source"] == "images:synthimages"
    assert "left out" in err and "have no dataset folder" in err  # sam's btcv result, for one
    # features are cached per checkpoint × dataset × split: the two recipes on each dataset share them
    assert len(list((records / ".features").glob("*.npy"))) == 6

    t0 = time.perf_counter()
    rc, again, _ = run_json(world, records, capsys)
    assert rc == 0 and {j["status"] for j in again.values()} == {"skipped"}
    assert time.perf_counter() - t0 < first
    assert {k: (j["verdict"], j["record"]) for k, j in again.items()} == \
        {k: (j["verdict"], j["record"]) for k, j in jobs.items()}
    assert record_files(records) == files  # nothing rewritten

    # the closing table
    assert sweep(world, records, "--result", "tinyvit-probe-ok,sweep-knn-img") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["result", "model", "dataset", "status", "verdict"]
    assert out[2].split() == ["tinyvit-probe-ok", "tinyvit", "synthmnist", "skipped", "reproduced"]
    assert len(out) == 5 and out[-1] == "(2 rows)"


def test_a_record_written_by_zoo_verify_counts_as_done(world, tmp_path, capsys):
    records = tmp_path / "records"
    assert main(["zoo", "verify", "tinyvit", "--catalog", str(world["catalog"]), "--result", "tinyvit-probe-ok",
                 "--data", str(world["data"] / "synthmnist.npz"), "--records", str(records), "--bootstrap", "100",
                 "--checkpoint", f"local-dir:{world['checkpoints'] / 'tinyvit'}", "--quiet"]) == 0
    rc, jobs, _ = run_json(world, records, capsys, "--result", "tinyvit-probe-ok,tinyvit-probe-wrong")
    assert rc == 0
    assert (jobs["tinyvit-probe-ok"]["status"], jobs["tinyvit-probe-wrong"]["status"]) == ("skipped", "done")
    # a subsampled (--limit) record is no finished job
    assert main(["zoo", "verify", "tinyvit", "--catalog", str(world["catalog"]), "--result", "sweep-knn-img",
                 "--data", str(world["data"] / "synthimages"), "--records", str(records), "--limit", "10",
                 "--checkpoint", f"local-dir:{world['checkpoints'] / 'tinyvit'}", "--quiet", "--bootstrap", "50"]) == 0
    rc, jobs, _ = run_json(world, records, capsys, "--result", "sweep-knn-img")
    assert rc == 0 and jobs["sweep-knn-img"]["status"] == "done"


def test_a_failed_job_is_recorded_the_others_finish_and_a_rerun_retries_it(world, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(world["data"], data)
    good_csv = (data / "synthimages" / "labels.csv").read_text()
    (data / "synthimages" / "train-003.png").unlink()  # a dataset folder with a file missing
    records = tmp_path / "records"
    rc, jobs, err = run_json(world, records, capsys, *TINYVIT, data=data)
    assert rc == 1
    assert {k: j["status"] for k, j in jobs.items()} == {"tinyvit-probe-ok": "done", "tinyvit-probe-wrong": "done",
                                                         "sweep-knn-img": "failed", "sweep-probe-img": "failed"}
    assert jobs["sweep-knn-img"]["verdict"] is None
    fail = json.loads(Path(jobs["sweep-knn-img"]["record"]).read_text())
    assert Path(jobs["sweep-knn-img"]["record"]) == records / "failed" / "sweep-knn-img.json"
    assert fail["status"] == "failed" and "train-003.png" in fail["error"] and "missing" in fail["error"]
    assert "sweep-knn-img failed:" in err and "train-003.png" in err
    assert len(record_files(records)) == 2  # failures are not verification records
    assert main(["zoo", "status", "--records", str(records), "--format", "json"]) == 0
    assert {r["result"] for r in json.loads(capsys.readouterr().out)} == {"tinyvit-probe-ok", "tinyvit-probe-wrong"}

    # a folder in no known layout fails its jobs the same way
    shutil.rmtree(data / "synthimages")
    (data / "synthimages").mkdir()
    (data / "synthimages" / "README.txt").write_text("the images are elsewhere")
    rc, jobs, _ = run_json(world, records, capsys, *TINYVIT, data=data)
    assert rc == 1
    assert {k: j["status"] for k, j in jobs.items()} == {"tinyvit-probe-ok": "skipped",
                                                         "tinyvit-probe-wrong": "skipped",
                                                         "sweep-knn-img": "failed", "sweep-probe-img": "failed"}
    assert "not a MedMNIST .npz, an image folder with labels.csv" in \
        json.loads((records / "failed" / "sweep-probe-img.json").read_text())["error"]

    # fixed: the rerun runs the failed jobs only, and their failure files go
    shutil.rmtree(data / "synthimages")
    shutil.copytree(world["data"] / "synthimages", data / "synthimages")
    assert (data / "synthimages" / "labels.csv").read_text() == good_csv
    rc, jobs, _ = run_json(world, records, capsys, *TINYVIT, data=data)
    assert rc == 0
    assert {k: j["status"] for k, j in jobs.items()} == {"tinyvit-probe-ok": "skipped",
                                                         "tinyvit-probe-wrong": "skipped",
                                                         "sweep-knn-img": "done", "sweep-probe-img": "done"}
    assert not list((records / "failed").glob("*.json"))


def _interrupt_second_job(monkeypatch, how):
    import fmreview.zoo.verify as V

    real, calls = V.verify, []

    def verify(*a, **kw):
        calls.append(kw["result_id"])
        if len(calls) == 2:
            how()
        return real(*a, **kw)

    monkeypatch.setattr(V, "verify", verify)
    return calls


def _raise_keyboard_interrupt():
    raise KeyboardInterrupt


def _sigterm():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)  # the handler raises before this ends


@pytest.mark.parametrize("how", [_raise_keyboard_interrupt, _sigterm], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_sweep_keeps_its_records_and_resumes(world, tmp_path, capsys, monkeypatch, how):
    records = tmp_path / "records"
    calls = _interrupt_second_job(monkeypatch, how)
    before = signal.getsignal(signal.SIGTERM)
    capsys.readouterr()
    assert sweep(world, records, *TINYVIT) == 1
    err = capsys.readouterr().err
    assert "interrupted: 1 done, 3 left; rerun the same command to resume" in err
    assert "Traceback" not in err and len(calls) == 2
    assert signal.getsignal(signal.SIGTERM) is before  # the sweep's handler is gone again
    assert len(record_files(records)) == 1
    assert not [p for p in records.rglob("*.tmp")]  # no temporary left
    assert not (records / "failed").exists()  # an interrupted job is not a failed one
    monkeypatch.undo()
    rc, jobs, _ = run_json(world, records, capsys, *TINYVIT)
    assert rc == 0
    assert sorted(j["status"] for j in jobs.values()) == ["done", "done", "done", "skipped"]
    assert jobs[calls[0]]["status"] == "skipped"


def test_an_interrupt_while_a_record_is_written_leaves_no_half_record(world, tmp_path, capsys, monkeypatch):
    """Ctrl-C during the record's fsync: the temporary file goes, the record is not there, the sweep resumes."""
    import fmreview.catalog.yamlio as Y

    records = tmp_path / "records"
    real, n = os.fsync, []

    def fsync(fd):
        where = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if where.parent == records and where.name.endswith(".tmp") and ".json." in where.name:  # a record
            n.append(where)
            if len(n) == 2:
                raise KeyboardInterrupt
        return real(fd)

    monkeypatch.setattr(Y.os, "fsync", fsync)
    assert sweep(world, records, "--quiet", *TINYVIT) == 1
    assert "interrupted: 1 done, 3 left" in capsys.readouterr().err
    assert len(n) == 2 and len(record_files(records)) == 1
    assert [p.name for p in records.iterdir() if p.is_file()] == list(record_files(records))  # no temporary
    for p in records.glob("*.json"):
        json.loads(p.read_text())  # whole


def test_hub_checkpoint_is_fetched_once_per_sweep_and_the_record_keeps_its_commit(world, tmp_path, capsys,
                                                                                  monkeypatch):
    from hubserver import Hub

    import huggingface_hub.constants as C

    monkeypatch.setattr(C, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # read when a download starts
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    records = tmp_path / "records"
    with Hub() as hub:
        hub.add("test/tinyvit", world["files"])  # the catalog pins its files
        hub.add("test/tiny-timm", world["timm_files"])  # the catalog lists none: the zoo lists the repository
        monkeypatch.setenv("HF_ENDPOINT", hub.url)

        def weights_fetched():
            return sorted(p.split("/resolve/")[0] for m, p in hub.requests
                          if m == "GET" and p.endswith("/model.safetensors"))

        rc, jobs, err = run_json(world, records, capsys, checkpoints=False)
        assert rc == 0, err
        assert {j["status"] for j in jobs.values()} == {"done"} and len(jobs) == 6
        assert weights_fetched() == ["/test/tiny-timm", "/test/tinyvit"]  # once each, for six jobs
        rec = json.loads(Path(jobs["sweep-probe-img"]["record"]).read_text())
        assert rec["checkpoint_revision"] == hub.commits["test/tinyvit"] and rec["checkpoint_pinned"] is True
        rec = json.loads(Path(jobs["tiny-timm-knn"]["record"]).read_text())
        assert rec["checkpoint_revision"] == hub.commits["test/tiny-timm"] and rec["checkpoint_pinned"] is False
        assert rec["verdict"] == "reproduced"
        rc, again, _ = run_json(world, records, capsys, checkpoints=False)
        assert rc == 0 and {j["status"] for j in again.values()} == {"skipped"}
        assert weights_fetched() == ["/test/tiny-timm", "/test/tinyvit"]
        # a gated checkpoint without a token fails its jobs, with the hub's answer, and writes no record
        hub.gated.add("test/tinyvit")
        monkeypatch.setattr(C, "HF_HUB_CACHE", str(tmp_path / "hf-cache2"))
        rc, jobs, _ = run_json(world, tmp_path / "records2", capsys, "--result", "tinyvit-probe-ok",
                               checkpoints=False)
    assert rc == 1 and jobs["tinyvit-probe-ok"]["status"] == "failed"
    assert "gated" in json.loads(Path(jobs["tinyvit-probe-ok"]["record"]).read_text())["error"]
    assert not list((tmp_path / "records2").glob("*.json"))


def test_bad_input_is_a_clear_error(world, tmp_path, capsys, monkeypatch):
    records = tmp_path / "records"
    assert sweep(world, records, data=tmp_path / "absent") == 1
    assert "absent: no such directory (--data-root holds one folder per dataset" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert sweep(world, records, data=tmp_path / "empty") == 1
    err = capsys.readouterr().err
    assert "no job to run" in err and "have no dataset folder under" in err and "empty/colours" in err
    assert sweep(world, records, "--model", "tinyvitt") == 1
    assert "did you mean 'tinyvit'" in capsys.readouterr().err
    assert sweep(world, records, "--model", "clip") == 1
    assert "have no hub checkpoint" in capsys.readouterr().err
    assert sweep(world, records, "--ray-address", "127.0.0.1:6379") == 1
    assert "--ray-address needs --backend ray" in capsys.readouterr().err
    assert sweep(world, records, "--gpus-per-job", "1") == 1
    assert "--gpus-per-job applies to --backend ray" in capsys.readouterr().err
    import socket

    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    t0 = time.perf_counter()
    assert sweep(world, records, "--backend", "ray", "--ray-address", f"127.0.0.1:{port}") == 1
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in capsys.readouterr().err
    assert time.perf_counter() - t0 < 20
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert sweep(world, records, "--backend", "ray") == 1
    err = capsys.readouterr().err
    assert "--backend ray needs Ray, which is not installed: pip install ray" in err and "Traceback" not in err
    assert not records.exists()  # nothing was written by any of these


# ---------------------------------------------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (its start is slow on a small machine); the sweep uses it as it is."""
    ray = pytest.importorskip("ray")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_sweep_runs_the_jobs_as_tasks_and_a_rerun_skips_them(world, tmp_path, capsys, local_ray):
    records = tmp_path / "records"
    t0 = time.perf_counter()
    rc, jobs, err = run_json(world, records, capsys, "--backend", "ray")
    wall = time.perf_counter() - t0
    assert rc == 0, err
    assert set(jobs) == JOBS and {j["status"] for j in jobs.values()} == {"done"}
    assert jobs["tinyvit-probe-ok"]["verdict"] == "reproduced"
    assert jobs["tiny-timm-knn"]["verdict"] == "reproduced"
    # the records were written by Ray's worker processes, not by this one
    assert len(record_files(records)) == 6
    rc, again, _ = run_json(world, records, capsys, "--backend", "ray", "--gpus-per-job", "0")
    assert rc == 0 and {j["status"] for j in again.values()} == {"skipped"}
    assert local_ray.is_initialized()  # a Ray the sweep did not start stays up
    assert sweep(world, records, "--backend", "ray", "--gpus-per-job", "1") == 1
    assert "but the Ray cluster has 0 GPUs" in capsys.readouterr().err
    print(f"ray sweep of 6 jobs: {wall:.1f} s", file=sys.stderr)


def test_ray_tasks_run_in_workers(local_ray):
    """The task function travels by reference: a worker imports fmreview.zoo.sweep and answers a bad job."""
    from fmreview.zoo.sweep import run_job

    out = local_ray.get(local_ray.remote(run_job).remote({"catalog": "/nonexistent/catalog", "model": "x"}))
    assert out["status"] == "failed" and out["error"]


def test_a_protocol_changed_in_the_catalog_runs_its_job_again(world, tmp_path, capsys):
    import shutil

    cat = tmp_path / "catalog"
    shutil.copytree(world["catalog"], cat)
    w = dict(world, catalog=cat)
    records = tmp_path / "records"
    rc, jobs, _ = run_json(w, records, capsys, "--result", "sweep-knn-img")
    assert rc == 0 and jobs["sweep-knn-img"]["verdict"] == "indicative"
    res = cat / "results" / "sweep-test.yaml"
    res.write_text(res.read_text().replace("  setting: knn\n",
                                           "  setting: knn\n  protocol:\n    head: {kind: knn, k: 20}\n"))
    rc, jobs, _ = run_json(w, records, capsys, "--result", "sweep-knn-img")
    assert rc == 0 and jobs["sweep-knn-img"]["status"] == "done" and jobs["sweep-knn-img"]["verdict"] == "reproduced"
    rec = json.loads(Path(jobs["sweep-knn-img"]["record"]).read_text())
    assert rec["protocol"]["stated"]["head"]["k"] == 20
    rc, jobs, _ = run_json(w, records, capsys, "--result", "sweep-knn-img")
    assert jobs["sweep-knn-img"]["status"] == "skipped"


def test_the_progress_bar_is_drawn_for_a_terminal_only(world, tmp_path, capsys, monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    records = tmp_path / "records"
    assert sweep(world, records, "--result", "tinyvit-probe-ok") == 0
    capsys.readouterr()
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert sweep(world, records, "--result", "tinyvit-probe-ok") == 0
    assert "1/1" in term.getvalue() and "job" in term.getvalue()
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert sweep(world, records, "--result", "tinyvit-probe-ok", "--format", "json") == 0
    assert "1/1" not in term.getvalue()


def test_an_interrupted_ray_sweep_cancels_its_tasks_and_resumes(world, tmp_path, capsys, local_ray):
    """Ctrl-C in the driver while Ray tasks run: the tasks still pending are cancelled (their atomic writes clean
    up), the finished records stay, and the rerun skips exactly those."""
    from fmreview.catalog import load
    from fmreview.zoo.sweep import SweepInterrupted, plan_jobs, run_sweep

    cat = load(world["catalog"])
    plan = plan_jobs(cat, world["data"], checkpoint_root=world["checkpoints"], models=["tinyvit"])
    records = tmp_path / "records"
    seen = []

    def stop_after_the_first(outcome):
        seen.append(outcome)
        if len(seen) == 1:
            raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted) as e:
        run_sweep(cat, plan, records=records, catalog=world["catalog"], backend="ray", device="cpu", n_boot=50,
                  on_outcome=stop_after_the_first)
    done = [o for o in e.value.outcomes if o.status == "done"]
    assert 1 <= len(done) < 4 and e.value.left == 4 - len(done)
    assert f"interrupted: {len(done)} done, {4 - len(done)} left" in str(e.value)
    written = record_files(records)
    assert len(done) <= len(written) < 4 and not list(records.rglob("*.tmp"))
    rc, jobs, _ = run_json(world, records, capsys, "--backend", "ray", *TINYVIT)
    assert rc == 0 and sum(j["status"] == "skipped" for j in jobs.values()) == len(written)
