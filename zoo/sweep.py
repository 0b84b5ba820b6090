"""Sweeps: every (result, checkpoint, dataset) job a data root can serve, verified one after another in this
process or as Ray tasks, and resumable.

Planning. A catalog result is a job when its model has a checkpoint (``CHECKPOINT_ROOT/<model id>`` when that
folder exists, else the model's hub checkpoint in the zoo registry), a recipe fits the result with that
checkpoint's format, and ``DATA_ROOT/<dataset id>`` exists (a folder, or ``<dataset id>.npz``). Whether the
folder is in a known layout is the job's concern: a folder in no known layout fails its jobs, not the sweep.

Identity and resume. A job is (result id, model id, the sha256 of every checkpoint file, the dataset
fingerprint, the protocol as the catalog states it): exactly what a verification record stores (``result``,
``model``, ``checkpoint_sha256``, ``dataset_fingerprint``, ``protocol.id`` and ``protocol.stated``), so a
protocol fixed in the catalog makes its job run again. Any full (not ``--limit``-subsampled) record in the
records folder, written by a sweep or by ``zoo verify``, marks its job done, and a rerun skips it. A failed job leaves
``RECORDS/failed/<result id>.json`` (status, error, the data and checkpoint it used); that file is not a
verification record (``zoo status`` and the report read only ``RECORDS/*.json``), so a rerun runs the job
again, and its success removes the file.

Checkpoints are fetched once per sweep, by the process that plans it; each job then reads the fetched folder
(``local-dir:``), and the hub commit it came from is kept in the record. Jobs of one checkpoint and dataset
share their features through ``feature_cache`` (default ``RECORDS/.features``). On a cluster the data root,
the records folder and the Hugging Face cache must be on a filesystem every node sees.

Interruption (Ctrl-C, SIGTERM): the running jobs are abandoned (records are written atomically, so none is half
there), finished records stay, and :class:`SweepInterrupted` says how many jobs are done and how many are left.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .records import records_dir

STATUSES = ("done", "skipped", "failed")
FAILED_DIR = "failed"
FEATURES_DIR = ".features"


class SweepError(Exception):
    """The sweep cannot start (no data root, nothing to run, Ray missing); the message says what to do."""


class SweepInterrupted(Exception):
    """Ctrl-C or SIGTERM: ``outcomes`` of the jobs that finished before, ``left`` jobs still without a record."""

    def __init__(self, outcomes: list, left: int):
        self.outcomes, self.left = outcomes, left
        done = sum(o.status in ("done", "skipped") for o in outcomes)
        super().__init__(f"interrupted: {done} done, {left} left; rerun the same command to resume")


@dataclass
class Job:
    result: str
    model: str
    dataset: str
    recipe: str
    data: Path                # DATA_ROOT/<dataset id> (or <dataset id>.npz)
    checkpoint: str           # where its weights come from: local-dir:PATH or hub:REPO@REVISION
    local: Path | None = None  # the user's checkpoint folder (--checkpoint-root), else None (hub)


@dataclass
class Outcome:
    job: Job
    status: str               # done, skipped, failed
    verdict: str | None = None
    record: str | None = None  # the verification record, or for a failed job its failure file
    error: str | None = None

    def row(self) -> dict:
        j = self.job
        return {"result": j.result, "model": j.model, "dataset": j.dataset, "status": self.status,
                "verdict": self.verdict, "record": self.record}


@dataclass
class Plan:
    jobs: list[Job]
    left_out: dict[str, list[str]] = field(default_factory=dict)  # reason -> result ids the sweep cannot run

    def summary(self) -> str:
        return "; ".join(f"{len(ids)} {why}" for why, ids in self.left_out.items())


# --------------------------------------------------------------------------------------------------- planning


def plan_jobs(cat, data_root, *, checkpoint_root=None, models: Iterable[str] | None = None,
              results: Iterable[str] | None = None) -> Plan:
    """Every job ``data_root`` can serve, in catalog order; SweepError when there is none (with the reasons)."""
    from .registry import entry as zoo_entry
    from .registry import recipe_for, require_model, require_result
    from .verify import METRIC_FNS, _checkpoint

    root = Path(data_root).expanduser().absolute()  # absolute: Ray workers on other nodes start elsewhere
    if not root.is_dir():
        raise SweepError(f"{root}: no such directory (--data-root holds one folder per dataset, named by its "
                         "catalog id: DIR/<dataset id>)")
    ck_root = Path(checkpoint_root).expanduser().absolute() if checkpoint_root else None
    if ck_root is not None and not ck_root.is_dir():
        raise SweepError(f"{ck_root}: no such directory (--checkpoint-root holds one folder per model, named by its "
                         "catalog id: DIR/<model id>)")
    models, results = list(models or ()), list(results or ())
    for m in models:
        require_model(cat, m)
    for r in results:
        require_result(cat, r)
    jobs, left_out = [], {}

    def leave(why: str, rid: str) -> None:
        left_out.setdefault(why, []).append(rid)

    checkpoints: dict[str, tuple] = {}  # model -> (catalog checkpoint, label, local folder) or None
    for e in cat.raw.result_files:
        for r in e.record.results:
            if results and r.id not in results:
                continue
            if models and r.model not in models:
                if results:
                    leave("not of the models asked for (--model)", r.id)
                continue
            if r.model not in checkpoints:
                local = ck_root / r.model if ck_root is not None else None
                if local is not None and local.is_dir():
                    checkpoints[r.model] = (_checkpoint(cat, r.model, local=True), f"local-dir:{local}", local)
                else:
                    try:
                        ck = zoo_entry(cat, r.model).checkpoint
                        checkpoints[r.model] = (ck, f"hub:{ck.repo_id}@{ck.revision or 'main'}", None)
                    except LookupError:
                        checkpoints[r.model] = None
            if checkpoints[r.model] is None:
                leave("have no hub checkpoint" + (f" and no folder under {ck_root}" if ck_root else
                                                 " (--checkpoint-root DIR/<model id> supplies weights you have)"),
                      r.id)
                continue
            ck, label, local = checkpoints[r.model]
            family = cat.raw.models[r.model].record.family
            recipe = recipe_for(r, family, ck.format)
            if not recipe:
                leave("have no zoo recipe for their setting, task and checkpoint format", r.id)
                continue
            if recipe == "zero-shot-classification" and r.class_prompts is None:
                leave("are zero-shot results without class_prompts", r.id)
                continue
            if recipe != "promptable-segmentation" and r.metric not in METRIC_FNS:
                leave("report a metric the recipes do not compute", r.id)
                continue
            data = _data_path(root, r.dataset)
            if data is None:
                leave(f"have no dataset folder under {root}", r.id)
                continue
            jobs.append(Job(r.id, r.model, r.dataset, recipe, data, label, local))
    if not jobs:
        what = (f"results {', '.join(results)}" if results else
                f"results of {', '.join(models)}" if models else "catalog results")
        reasons = "; ".join(f"{len(ids)} {why} ({_some(ids)})" for why, ids in left_out.items())
        hint = ""
        if any(w.startswith("have no dataset folder") for w in left_out):
            wanted = sorted({r.dataset for e in cat.raw.result_files for r in e.record.results
                             if r.id in left_out[f"have no dataset folder under {root}"]})
            hint = f"; put the data in {root}/<dataset id>, e.g. {', '.join(str(root / d) for d in wanted[:3])}"
        raise SweepError(f"no job to run: none of the {what} can be re-run from {root}"
                         + (f": {reasons}" if reasons else " (none selected)") + hint)
    return Plan(jobs, left_out)


def _data_path(root: Path, dataset: str) -> Path | None:
    for p in (root / dataset, root / f"{dataset}.npz"):
        if p.exists():
            return p
    return None


def _some(ids: list[str], n: int = 3) -> str:
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")


# ----------------------------------------------------------------------------------------------- the records


def job_key(result: str, model: str, checkpoint_sha256: dict, dataset_fingerprint: str, protocol=None) -> str:
    """A job's identity, the same for a planned job and for the record that finished it. ``protocol``: the
    record's ``protocol`` entry (only its ``id`` and ``stated`` fields count; None = no protocol stated)."""
    proto = protocol or {}
    return json.dumps([result, model, sorted((checkpoint_sha256 or {}).items()), dataset_fingerprint,
                       proto.get("id"), proto.get("stated") or {}], sort_keys=True)


def _stated_protocol(cat, result_id: str) -> dict:
    """What a record of ``result_id`` will store as its protocol's id and stated fields."""
    from .protocols import resolve

    r = next(r for e in cat.raw.result_files for r in e.record.results if r.id == result_id)
    got = resolve(cat, r)
    return {"id": got.id, "stated": got.stated()}


def finished(directory) -> dict[str, tuple[str | None, str]]:
    """job key -> (verdict, record path) for every full verification record in ``directory``."""
    d = records_dir(directory)
    out = {}
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            r = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(r, dict) or r.get("subsampled") or not r.get("dataset_fingerprint"):
            continue
        key = job_key(r.get("result"), r.get("model"), r.get("checkpoint_sha256"), r["dataset_fingerprint"],
                      r.get("protocol"))
        out[key] = (r.get("verdict"), str(p))
    return out


def failure_path(directory, result: str) -> Path:
    return records_dir(directory) / FAILED_DIR / f"{result}.json"


def _write_failure(directory, job: Job, error: str) -> str:
    from fmreview.catalog.yamlio import write_atomic

    p = failure_path(directory, job.result)
    doc = {"result": job.result, "model": job.model, "dataset": job.dataset, "recipe": job.recipe,
           "status": "failed", "error": error, "data": str(job.data), "checkpoint": job.checkpoint,
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    write_atomic(p, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return str(p)


def _clear_failure(directory, result: str) -> None:
    try:
        failure_path(directory, result).unlink()
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------------------------------------------- a job


_CATALOGS: dict = {}  # a Ray worker loads each catalog once


def _message(e: Exception) -> str:
    from .datasets import DataError
    from .download import DownloadError
    from .loading import LoadError
    from .protocols import ProtocolError
    from .verify import VerifyError

    known = (VerifyError, DataError, DownloadError, LoadError, LookupError, ProtocolError)
    return str(e) if isinstance(e, known) else f"{type(e).__name__}: {e}"


def run_job(spec: dict, cat=None) -> dict:
    """Verify one job (``spec``: plain values, so that it travels to a Ray worker). Any error is returned as
    ``{"status": "failed", "error": …}``; KeyboardInterrupt passes through."""
    from .verify import verify

    try:
        if cat is None:
            if spec["catalog"] not in _CATALOGS:
                from fmreview.catalog import load

                _CATALOGS[spec["catalog"]] = load(spec["catalog"])
            cat = _CATALOGS[spec["catalog"]]
        rec = verify(cat, spec["model"], result_id=spec["result"], data=spec["data"], checkpoint=spec["checkpoint"],
                     records=spec["records"], device=spec["device"], batch_size=spec["batch_size"],
                     n_boot=spec["n_boot"], feature_cache=spec["feature_cache"],
                     checkpoint_revision=spec.get("revision"))  # the commit the fetched folder came from
        return {"status": "done", "verdict": rec.get("verdict"), "record": rec["file"]}
    except Exception as e:  # one failed job never stops the others
        return {"status": "failed", "error": _message(e)}


# -------------------------------------------------------------------------------------------------- the sweep


@dataclass
class _Ready:
    job: Job
    spec: dict | None = None   # to run
    outcome: Outcome | None = None  # already known: skipped, or failed before it could run


def _prepare(cat, jobs: list[Job], *, records, catalog, device, batch_size, n_boot, feature_cache, log):
    """Jobs grouped by checkpoint, each checkpoint fetched once; yields what to run and what is known already."""
    from .datasets import fingerprint
    from .download import fetch
    from .registry import entry as zoo_entry
    from .verify import _checkpoint

    done = finished(records)
    prints: dict[Path, tuple[str | None, str | None]] = {}  # data -> (fingerprint, error)
    groups: dict[tuple[str, str], list[Job]] = {}
    for j in jobs:
        groups.setdefault((j.model, j.checkpoint), []).append(j)
    for group in groups.values():
        for j in group:
            if j.data not in prints:
                try:
                    prints[j.data] = (fingerprint(j.data, "test"), None)  # bytes only: the job decodes them
                except Exception as e:
                    prints[j.data] = (None, _message(e))
        if all(prints[j.data][1] for j in group):
            for j in group:
                yield _Ready(j, outcome=Outcome(j, "failed", error=prints[j.data][1]))
            continue
        first = group[0]
        try:
            listed = _checkpoint(cat, first.model, local=True)  # what verify checks a local-dir: folder against
            revision = None
            if first.local is not None:
                folder = first.local
            else:
                ck = zoo_entry(cat, first.model).checkpoint
                log(f"fetching {ck.repo_id}@{ck.revision or 'main'}")
                got = fetch(ck)
                folder, revision = got.path, got.revision
                if ck != listed:  # verify would check the folder against another listed checkpoint: let it fetch
                    folder = None
            if folder is None:
                where, sha = None, got.sha256
            else:
                where = f"local-dir:{Path(folder).absolute()}"
                sha = fetch(listed, local=where).sha256  # the sha256 verify will record
        except Exception as e:
            for j in group:
                yield _Ready(j, outcome=Outcome(j, "failed", error=prints[j.data][1] or _message(e)))
            continue
        for j in group:
            fp, err = prints[j.data]
            if err:
                yield _Ready(j, outcome=Outcome(j, "failed", error=err))
                continue
            try:
                proto = _stated_protocol(cat, j.result)
            except Exception as e:  # a protocol the catalog names but does not hold: verify says so too
                yield _Ready(j, outcome=Outcome(j, "failed", error=_message(e)))
                continue
            hit = done.get(job_key(j.result, j.model, sha, fp, proto))
            if hit:
                yield _Ready(j, outcome=Outcome(j, "skipped", verdict=hit[0], record=hit[1]))
                continue
            yield _Ready(j, spec={"result": j.result, "model": j.model, "data": str(j.data), "checkpoint": where,
                                  "revision": revision, "records": str(records), "catalog": catalog,
                                  "device": device, "batch_size": batch_size, "n_boot": n_boot,
                                  "feature_cache": feature_cache})


def run_sweep(cat, plan: Plan | list[Job], *, records, catalog=None, backend: str = "local",
              ray_address: str | None = None, gpus_per_job: float | None = None, device: str | None = None,
              batch_size: int = 32, n_boot: int = 1000, feature_cache=None,
              on_outcome: Callable[[Outcome], None] | None = None, log=None) -> list[Outcome]:
    """Run every job not finished yet; one Outcome per job, in plan order. ``catalog`` is the catalog folder
    Ray workers load (None: the shipped one). Raises SweepInterrupted on Ctrl-C or SIGTERM."""
    jobs = plan.jobs if isinstance(plan, Plan) else list(plan)
    log = log or (lambda s: None)
    records = records_dir(records).expanduser().absolute()
    feature_cache = str(Path(feature_cache).expanduser().absolute() if feature_cache else records / FEATURES_DIR)
    if backend not in ("local", "ray"):
        raise SweepError(f"unknown backend {backend!r}; expected local or ray")
    if backend == "local" and ray_address:
        raise SweepError("--ray-address needs --backend ray")
    ray, started = _start_ray(ray_address, log) if backend == "ray" else (None, False)
    outcomes: dict[int, Outcome] = {}
    index = {id(j): i for i, j in enumerate(jobs)}

    def settle(o: Outcome) -> None:
        if o.status == "failed":
            o.record = _write_failure(records, o.job, o.error or "unknown error")
        elif o.status == "done":
            _clear_failure(records, o.job.result)
        outcomes[index[id(o.job)]] = o
        if on_outcome:
            on_outcome(o)

    def from_result(job: Job, res: dict) -> Outcome:
        return Outcome(job, res["status"], verdict=res.get("verdict"), record=res.get("record"),
                       error=res.get("error"))

    catalog = None if catalog is None else str(Path(catalog).expanduser().absolute())
    prepared = _prepare(cat, jobs, records=records, catalog=catalog,
                        device=device, batch_size=batch_size, n_boot=n_boot, feature_cache=feature_cache, log=log)
    with _sigterm_as_interrupt():
        try:
            if ray is None:
                for r in prepared:
                    settle(r.outcome or from_result(r.job, run_job(r.spec, cat)))
            else:
                _run_on_ray(ray, prepared, gpus_per_job, device, settle, from_result, log)
        except KeyboardInterrupt:
            got = [outcomes[i] for i in sorted(outcomes)]
            raise SweepInterrupted(got, len(jobs) - sum(o.status != "failed" for o in got)) from None
        finally:
            if started:  # a Ray this sweep started; one the caller runs (or a cluster) stays up
                ray.shutdown()
    return [outcomes[i] for i in range(len(jobs))]


# ------------------------------------------------------------------------------------------------------- Ray


def _start_ray(address: str | None, log):
    """(the ray module, whether this call started it), connected to ``address`` (an existing cluster) or to a
    Ray started here (all this machine's CPUs and GPUs, no dashboard); one already running in this process is
    used as it is."""
    try:
        import ray
    except ImportError:
        raise SweepError("--backend ray needs Ray, which is not installed: pip install ray "
                         "(or run the jobs one after another with --backend local)") from None
    if ray.is_initialized():
        return ray, False
    if address:
        _reachable(address)
    try:
        if address:
            log(f"connecting to the Ray cluster at {address}")
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            log("starting a local Ray")
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        hint = ("; is `ray start --head` running there, and is the address HOST:PORT (6379 by default)?"
                if address else "")
        raise SweepError(f"could not start {where} ({type(e).__name__}: {e}){hint}") from None
    return ray, True


def _reachable(address: str, timeout: float = 10.0) -> None:
    """Refuse a HOST:PORT nothing listens on at once (ray.init would wait for minutes); other address forms
    (``auto``, ``ray://…``) are left to Ray."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as e:
        raise SweepError(f"no Ray cluster answers at {address} ({e.strerror or e}); start one there with "
                         "`ray start --head --port=PORT` (6379 by default), or leave out --ray-address to start a "
                         "Ray on this machine") from None


def _run_on_ray(ray, prepared, gpus_per_job, device, settle, from_result, log) -> None:
    total = float(ray.cluster_resources().get("GPU", 0))
    gpus = (1.0 if total else 0.0) if gpus_per_job is None else float(gpus_per_job)
    if gpus > total:
        raise SweepError(f"--gpus-per-job {gpus:g}, but the Ray cluster has {total:g} GPUs: no job could ever be "
                         "scheduled (use --gpus-per-job 0 to run on CPUs)")
    task = ray.remote(run_job).options(num_gpus=gpus, max_retries=0)
    pending: dict = {}

    def harvest(timeout) -> None:
        if not pending:
            return
        ready, _ = ray.wait(list(pending), num_returns=1 if timeout is None else len(pending), timeout=timeout)
        for ref in ready:
            job = pending.pop(ref)
            try:
                settle(from_result(job, ray.get(ref)))
            except ray.exceptions.RayError as e:  # the worker died (killed, out of memory …)
                settle(Outcome(job, "failed", error=f"the Ray task failed: {type(e).__name__}: {e}"))

    try:
        for r in prepared:
            if r.outcome:
                settle(r.outcome)
            else:
                cpu_only = not gpus and r.spec["device"] in (None, "auto")  # a task without a GPU runs on CPUs
                spec = dict(r.spec, device="cpu") if cpu_only else r.spec
                pending[task.remote(spec)] = r.job
            harvest(0)
        while pending:
            harvest(None)
    except KeyboardInterrupt:
        harvest(0)
        for ref in pending:  # a cancelled task gets KeyboardInterrupt: its atomic writes clean up after themselves
            ray.cancel(ref)
        if pending:
            ray.wait(list(pending), num_returns=len(pending), timeout=10)
        raise


# ------------------------------------------------------------------------------------------------- signals


class _sigterm_as_interrupt:
    """SIGTERM (what Slurm and `kill` send) raises KeyboardInterrupt, as Ctrl-C does, while a sweep runs."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False
