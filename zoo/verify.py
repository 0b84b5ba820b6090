"""Re-run a reported evaluation and say whether it reproduces.

Verdict (documented rule):
  reproduced       |reproduced − reported| ≤ tolerance
  not reproduced   the difference exceeds the tolerance and the bootstrap CI excludes the reported value
  inconclusive     otherwise (the CI still covers the reported value), or the run was subsampled (--limit)
Tolerance: the catalog result's ``tolerance`` (in its unit), else 0.02 on the fraction scale (2 points).
"""

from __future__ import annotations

import datetime as _dt
import platform
import time
from dataclasses import dataclass

import numpy as np

from . import metrics as M
from .datasets import DataError, check_classes, load_split
from .device import pick_device
from .download import fetch
from .loading import load_model
from .records import write_record
from .registry import entry as zoo_entry
from .registry import recipe_for, require_model, require_result

DEFAULT_TOLERANCE = 0.02
METRIC_FNS = {
    "balanced-accuracy": lambda y, p, classes: M.balanced_accuracy(y, classes[p.argmax(1)]),
    "accuracy": lambda y, p, classes: M.accuracy(y, classes[p.argmax(1)]),
    "auc": lambda y, p, classes: M.macro_auc(np.searchsorted(classes, y), p if p.shape[1] > 2 else p[:, 1]),
}


class VerifyError(Exception):
    pass


@dataclass
class Plan:
    result: object
    recipe: str
    reported: float
    tolerance: float


def _checkpoint(cat, model: str, local: bool):
    """The checkpoint verify works with: for weights the user has, the first one the catalog lists (a
    transformers one when none is listed); else the zoo entry's (None when the model has none on the hub)."""
    if local:
        from fmreview.catalog.schema import Checkpoint

        listed = cat.raw.models[model].record.checkpoints
        return listed[0] if listed else Checkpoint(hub="other", url="https://localhost/", format="transformers")
    try:
        return zoo_entry(cat, model).checkpoint
    except LookupError:
        return None


def plan(cat, model: str, result_id: str | None, fmt: str | None = None) -> Plan:
    rows = [(r, e) for e in cat.raw.result_files for r in e.record.results if r.model == model]
    if result_id:
        rows = [(r, e) for r, e in rows if r.id == result_id]
        if not rows:
            raise VerifyError(f"no result {result_id!r} for model {model!r} in the catalog")
    family = cat.raw.models[model].record.family
    usable = [(r, recipe_for(r, family, fmt)) for r, _ in rows]
    usable = [(r, rc) for r, rc in usable if rc]
    if not usable:
        raise VerifyError(f"no catalog result of {model!r} can be re-run by a zoo recipe"
                          + (f" ({result_id})" if result_id else "")
                          + (f" from a {fmt} checkpoint" if fmt else ""))
    r, rc = usable[0]
    scale = 100.0 if r.unit == "percent" else 1.0
    tol = r.tolerance / scale if r.tolerance else DEFAULT_TOLERANCE
    return Plan(r, rc, r.value / scale, tol)


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("fmreview", "torch", "transformers", "huggingface-hub", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def verify(cat, model: str, *, result_id=None, data=None, device=None, batch_size: int = 32, limit=None,
           checkpoint=None, trust_remote_code: bool = False, records=None, n_boot: int = 1000, seed: int = 0,
           log=None) -> dict:
    log = log or (lambda s: None)
    require_model(cat, model)
    if result_id:
        require_result(cat, result_id, model)
    ck = _checkpoint(cat, model, local=bool(checkpoint))
    p = plan(cat, model, result_id, ck.format if ck else None)
    if p.recipe == "zero-shot-classification" and p.result.class_prompts is None:
        raise VerifyError(f"result {p.result.id} is zero-shot classification: the catalog entry needs class_prompts "
                          "(the classes in label order and the templates the source used)")
    if p.recipe != "promptable-segmentation" and p.result.metric not in METRIC_FNS:
        raise VerifyError(f"metric {p.result.metric} is not computed by the {p.recipe} recipe "
                          f"(available: {', '.join(METRIC_FNS)})")
    if data is None:
        raise VerifyError(f"--data is required: point it at {p.result.dataset} in a supported layout "
                          "(MedMNIST .npz, images + labels.csv, NIfTI imagesTr/labelsTr)")
    if limit is not None and limit < 1:
        raise VerifyError(f"--limit {limit}: expected a positive number of test cases")
    if n_boot < 1:
        raise VerifyError(f"--bootstrap {n_boot}: expected a positive number of resamples")
    if not checkpoint and ck is None:
        zoo_entry(cat, model)  # says why the model has nothing to download
    # the data are read and checked before anything is downloaded or loaded: a wrong --data costs nothing
    train, test, subsampled = _data(p, data, limit)
    if checkpoint:
        got = fetch(ck, local=checkpoint)
    else:
        log(f"fetching {ck.repo_id}@{ck.revision or 'main'}")
        got = fetch(ck)
        if not got.pinned:
            log(f"the catalog pins no sha256 for {ck.repo_id}: verifying the files the repository holds now "
                f"(revision {got.revision}); their sha256 go into the record. To pin them, add to the entry's "
                "checkpoint: files: " + "; ".join(f"{{path: {k}, sha256: {v}}}" for k, v in sorted(got.sha256.items())))
    dev = pick_device(device)
    log(f"loading the model on {dev}")
    net = load_model(got.path, ck.format, trust_remote_code=trust_remote_code)
    if p.recipe == "promptable-segmentation":
        return _verify_segmentation(p, model, net, got, test, subsampled, dev, batch_size, records, n_boot, seed, log)
    t0 = time.perf_counter()
    from .recipes import features, knn, linear_probe

    listed = cat.raw.models[model].record.checkpoints
    pre = listed[0].preprocessing if listed else None
    if pre and pre.mean:  # the catalog's preprocessing wins; else what the checkpoint itself declares
        kw = {"mean": pre.mean, "std": pre.std or (0.5, 0.5, 0.5), "size": pre.image_size}
    else:
        kw = dict(getattr(net, "preprocessing", {}))
    if p.recipe == "zero-shot-classification":
        from .recipes import zero_shot_classification

        cp = p.result.class_prompts
        if hasattr(net, "text_features"):
            tokenizer = None
        else:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(got.path, trust_remote_code=trust_remote_code)
        prob = zero_shot_classification(net, tokenizer, test.images, cp.classes, cp.templates,
                                        batch_size=batch_size, device=dev, log=log, **kw)
        classes = np.arange(len(cp.classes))
        n_seen = len(test.labels)
    else:
        ftr = features(net, train.images, batch_size=batch_size, device=dev, log=log, **kw)
        fte = features(net, test.images, batch_size=batch_size, device=dev, log=log, **kw)
        classes, prob = (linear_probe(ftr, train.labels, fte, seed=seed) if p.recipe == "linear-probe"
                         else knn(ftr, train.labels, fte))
        n_seen = len(train.labels) + len(test.labels)
    elapsed = time.perf_counter() - t0
    fn = METRIC_FNS[p.result.metric]
    value = fn(test.labels, prob, classes)
    lo, hi = _ci(lambda y, pr: fn(y, pr, classes), test.labels, prob, n=n_boot, seed=seed)
    delta = value - p.reported
    verdict = _verdict(delta, lo, hi, p, subsampled)
    record = {
        "result": p.result.id, "model": model, "dataset": p.result.dataset, "metric": p.result.metric,
        "recipe": p.recipe, "reported": p.reported, "reproduced": value, "ci_low": lo, "ci_high": hi,
        "ci_level": 0.95, "delta": delta, "tolerance": p.tolerance, "verdict": verdict, "n": int(len(test.labels)),
        "subsampled": subsampled, "device": dev, "checkpoint_revision": got.revision, "checkpoint_sha256": got.sha256,
        "checkpoint_pinned": got.pinned,
        "dataset_fingerprint": test.fingerprint, "data_source": test.source,
        "images_per_second": float(n_seen / max(elapsed, 1e-9)),
        "packages": _versions(), "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    record["file"] = str(write_record(record, records))
    return record


def _data(p: Plan, data, limit):
    """The splits the recipe reads, checked: (train or None, test, subsampled)."""
    if p.recipe == "promptable-segmentation":
        test = load_split(data, "test")
        if test.labels.ndim != 3:
            raise VerifyError(f"{test.source}: promptable segmentation needs masks (a NIfTI imagesTr/labelsTr "
                              "folder), not class labels")
        if len(test.labels) == 0:
            raise DataError(f"{test.source}: the test split is empty")
        subsampled = bool(limit and limit < len(test.labels))
        if subsampled:
            test = type(test)(test.images[:limit], test.labels[:limit], test.fingerprint, test.source)
        if not (test.labels > 0).any():
            raise VerifyError(f"{test.source}: no case has a foreground mask, so no box prompt can be derived"
                              + (f" (in the first {limit} cases, --limit)" if subsampled else ""))
        return None, test, subsampled
    train = None
    if p.recipe == "zero-shot-classification":
        test = load_split(data, "test")
        check_classes(test, "test", n_classes=len(p.result.class_prompts.classes))
    else:
        train, test = load_split(data, "train"), load_split(data, "test")
        check_classes(train, "train")
        check_classes(test, "test", known=np.unique(train.labels))
    subsampled = bool(limit and limit < len(test.labels))
    if subsampled:
        test = type(test)(test.images[:limit], test.labels[:limit], test.fingerprint, test.source)
        if len(np.unique(test.labels)) < 2:
            raise VerifyError(f"{test.source}: the first {limit} test cases (--limit) hold one class only; a "
                              "classification metric needs at least two, so raise --limit")
    return train, test, subsampled


def _ci(metric, *arrays, n: int, seed: int) -> tuple[float, float]:
    try:
        return M.bootstrap_ci(metric, *arrays, n=n, seed=seed)
    except ValueError as e:
        raise VerifyError(f"no bootstrap CI: {e}") from None


def _verdict(delta: float, lo: float, hi: float, p: Plan, subsampled: bool) -> str:
    if subsampled:
        return "inconclusive"
    if abs(delta) <= p.tolerance:
        return "reproduced"
    if not (lo <= p.reported <= hi):
        return "not reproduced"
    return "inconclusive"


def _verify_segmentation(p, model, net, got, test, subsampled, dev, batch_size, records, n_boot, seed, log) -> dict:
    from .recipes import promptable_segmentation

    images, masks = test.images, test.labels
    t0 = time.perf_counter()
    pred, keep = promptable_segmentation(net, images, masks, batch_size=batch_size, device=dev, log=log)
    elapsed = time.perf_counter() - t0
    if not keep:
        raise VerifyError("no case has a foreground mask, so no box prompt can be derived")
    gt = masks[keep] > 0
    metric = M.dice if p.result.metric == "dice" else M.nsd
    per_case = np.array([metric(a, b) for a, b in zip(pred, gt)])
    value = float(per_case.mean())
    lo, hi = _ci(lambda v: float(np.mean(v)), per_case, n=n_boot, seed=seed)
    delta = value - p.reported
    record = {
        "result": p.result.id, "model": model, "dataset": p.result.dataset, "metric": p.result.metric,
        "recipe": p.recipe, "reported": p.reported, "reproduced": value, "ci_low": lo, "ci_high": hi,
        "ci_level": 0.95, "delta": delta, "tolerance": p.tolerance,
        "verdict": _verdict(delta, lo, hi, p, subsampled), "n": int(len(keep)), "subsampled": subsampled,
        "device": dev, "checkpoint_revision": got.revision, "checkpoint_sha256": got.sha256,
        "checkpoint_pinned": got.pinned,
        "dataset_fingerprint": test.fingerprint, "data_source": test.source,
        "images_per_second": float(len(keep) / max(elapsed, 1e-9)), "packages": _versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    record["file"] = str(write_record(record, records))
    return record
