"""Re-run a reported evaluation and say whether it reproduces.

Verdict (documented rule):
  indicative       the result states no protocol (neither ``protocol: ID`` nor an inline ``protocol:`` block):
                   the re-run used the zoo's default recipe, so it says how the checkpoint does under that recipe,
                   not whether the reported number reproduces. Never "not reproduced" for an unknown protocol.
  reproduced       the protocol is known and |reproduced − reported| ≤ tolerance
  not reproduced   the protocol is known, the difference exceeds the tolerance and the bootstrap CI excludes the
                   reported value
  inconclusive     the protocol is known and otherwise (the CI still covers the reported value), or the run was
                   subsampled (--limit)
Tolerance: the catalog result's ``tolerance`` (in its unit), else 0.02 on the fraction scale (2 points).

The protocol (fmreview.zoo.protocols) sets the resize rule, normalisation, head (logistic regression or a linear
layer with its optimiser, epochs, learning rate, batch and weight decay; kNN's k and weighting; zero-shot
templates; the box prompt's mask selection), seeds and metric averaging. The record stores the protocol's id, the
fields it stated, every value the run used with where it came from, and the stated fields the zoo could not honour.

Frozen features can be cached (``feature_cache=DIR``): one .npy per (checkpoint files' sha256 and revision,
format, dataset fingerprint, split, number of cases, preprocessing), written atomically, so that kNN and the
linear probe on one checkpoint × dataset compute them once.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import metrics as M
from .datasets import DataError, check_classes, load_split
from .device import pick_device, precision
from .download import fetch
from .loading import load_model
from .protocols import ProtocolError, Resolved, check_head, fill, head_kwargs, resolve
from .records import write_record
from .registry import entry as zoo_entry
from .registry import recipe_for, require_model, require_result

DEFAULT_TOLERANCE = 0.02
FEATURE_CACHE_VERSION = 1  # bump when the feature extractor changes what it returns
INDICATIVE_NOTE = ("the result states no protocol: this run used the zoo's default recipe, so it is indicative only "
                   "(not a check of the reported number); add `protocol:` to the result to make it one")


def _auc(y, p, classes, averaging="macro"):
    yi = np.searchsorted(classes, y)
    if p.shape[1] == 2:
        return M.auc(yi, p[:, 1])
    if averaging == "macro":
        return M.macro_auc(yi, p)
    if averaging == "weighted":
        return M.weighted_auc(yi, p)
    raise ValueError(f"AUC averaging {averaging!r} is not computed (macro or weighted)")


METRIC_FNS = {
    "balanced-accuracy": lambda y, p, classes, averaging=None: M.balanced_accuracy(y, classes[p.argmax(1)]),
    "accuracy": lambda y, p, classes, averaging=None: M.accuracy(y, classes[p.argmax(1)]),
    "auc": lambda y, p, classes, averaging=None: _auc(y, p, classes, averaging or "macro"),
}
AVERAGINGS = {"auc": ("macro", "weighted"), "balanced-accuracy": ("balanced", "macro"), "accuracy": ("micro",)}


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
    for pkg in ("fmreview", "torch", "transformers", "huggingface-hub", "numpy", "timm", "open_clip_torch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def folder_format(folder: Path) -> str | None:
    """The format a checkpoint folder is unmistakably in, from the files each library writes, or None when the
    files do not say: open_clip_config.json (open_clip); config.json with ``model_type`` (transformers);
    config.json with ``architecture`` and no ``model_type`` (timm's hub layout)."""
    folder = Path(folder)
    if (folder / "open_clip_config.json").is_file():
        return "open_clip"
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict):
        return None
    if "model_type" in cfg:
        return "transformers"
    if "architecture" in cfg:
        return "timm"
    return None


def _check_format(cat, model: str, ck, folder: Path) -> None:
    """Refuse a checkpoint whose files contradict the format the catalog states for it."""
    found = folder_format(folder)
    if ck is None or not ck.format or found is None or found == ck.format:
        return
    entry = cat.raw.models[model]
    files = {"open_clip": "open_clip_config.json", "transformers": "config.json with model_type",
             "timm": "config.json with architecture and no model_type"}[found]
    raise VerifyError(f"{entry.file}: the catalog says the checkpoint of {model!r} is in {ck.format} format, but "
                      f"{folder} holds a {found} checkpoint ({files}); correct the entry's checkpoints[].format "
                      f"to {found!r}, or point --checkpoint at a {ck.format} checkpoint")


def expected_classes(cat, result) -> tuple[int | None, str]:
    """How many classes the result is over, and where the catalog says so: its class_prompts, else its dataset's
    ``classes`` (only for a result on the whole dataset: a subset may have fewer)."""
    if result.class_prompts is not None:
        return len(result.class_prompts.classes), f"result {result.id!r} class_prompts"
    ds = cat.raw.datasets.get(result.dataset)
    if ds is not None and ds.record.classes and result.subset is None:
        return int(ds.record.classes), f"{ds.file} classes"
    return None, ""


def _check_class_count(cat, p: Plan, split, name: str) -> None:
    n, where = expected_classes(cat, p.result)
    if n is None:
        return
    found = np.unique(split.labels)
    if len(found) != n or found.min() < 0 or found.max() >= n:
        labels = ", ".join(str(c) for c in found.tolist()[:12]) + (" …" if len(found) > 12 else "")
        raise DataError(f"{split.source}: the {name} split has {len(found)} classes (labels {labels}), but "
                        f"{p.result.dataset} for result {p.result.id!r} has {n} ({where}; labels 0 to {n - 1}); "
                        "point --data at that dataset, with its labels in the catalog's order")


def verify(cat, model: str, *, result_id=None, data=None, device=None, batch_size: int = 32, limit=None,
           checkpoint=None, trust_remote_code: bool = False, records=None, n_boot: int = 1000, seed: int = 0,
           log=None, feature_cache=None, checkpoint_revision=None) -> dict:
    """Re-run one catalog result of ``model`` on ``data`` and write a record (see the module docstring for the
    verdict rule). Errors a user can fix raise VerifyError, DataError, DownloadError, LoadError or LookupError,
    before anything is written."""
    log = log or (lambda s: None)
    require_model(cat, model)
    if result_id:
        require_result(cat, result_id, model)
    ck = _checkpoint(cat, model, local=bool(checkpoint))
    p = plan(cat, model, result_id, ck.format if ck else None)
    try:
        proto = resolve(cat, p.result)
        check_head(proto, p.recipe)  # a catalog mistake costs no download
    except ProtocolError as e:
        raise VerifyError(str(e)) from None
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
    train, test, subsampled = _data(cat, p, data, limit)
    if checkpoint:
        got = fetch(ck, local=checkpoint)
        if checkpoint_revision:  # a folder fetched from the hub earlier (a sweep fetches each checkpoint once)
            got.revision = checkpoint_revision
    else:
        log(f"fetching {ck.repo_id}@{ck.revision or 'main'}")
        got = fetch(ck)
        if not got.pinned:
            log(f"the catalog pins no sha256 for {ck.repo_id}: verifying the files the repository holds now "
                f"(revision {got.revision}); their sha256 go into the record. To pin them, add to the entry's "
                "checkpoint: files: " + "; ".join(f"{{path: {k}, sha256: {v}}}" for k, v in sorted(got.sha256.items())))
    _check_format(cat, model, ck, got.path)
    dev = pick_device(device)
    log(f"loading the model on {dev}")
    net = load_model(got.path, ck.format, trust_remote_code=trust_remote_code)
    listed = cat.raw.models[model].record.checkpoints
    pre = listed[0].preprocessing if listed else None
    ck_pre = ({"size": pre.image_size, "resize": pre.resize, "crop": pre.crop, "mean": pre.mean, "std": pre.std}
              if pre else {})
    if ck_pre.get("crop") not in (None, "center", "none"):
        ck_pre["crop"] = None
    if ck_pre.get("resize") not in (None, "shortest-edge", "longest-edge", "square"):
        ck_pre["resize"] = None
    net_pre = dict(getattr(net, "preprocessing", {}) or {})
    if "size" not in net_pre:
        from .recipes import image_size

        net_pre["size"] = image_size(net, 1024 if p.recipe == "promptable-segmentation" else 224)
    if p.recipe == "promptable-segmentation":
        net_pre.setdefault("mean", None)
    try:
        fill(proto, p.recipe, checkpoint_pre=ck_pre, model_pre=net_pre, metric=p.result.metric, seed=seed)
    except ProtocolError as e:
        raise VerifyError(str(e)) from None
    if proto.used.get("mean") is None and p.recipe != "promptable-segmentation":
        from .recipes import CLIP_MEAN, CLIP_STD

        clip = p.recipe == "zero-shot-classification"
        proto.set("mean", list(CLIP_MEAN) if clip else [0.5, 0.5, 0.5], "zoo default" + (" (CLIP's)" if clip else ""))
        proto.set("std", list(CLIP_STD) if clip else [0.5, 0.5, 0.5], "zoo default" + (" (CLIP's)" if clip else ""))
    elif proto.used.get("mean") is not None and proto.used.get("std") is None:
        proto.set("std", [0.5, 0.5, 0.5], "zoo default")
    if not proto.known:
        log("this result states no protocol: the zoo's defaults are used and the verdict is indicative only")
    for name in proto.not_applied:
        log(f"the protocol's {name} ({proto.stated().get('head', {}).get(name[5:], '')}) is not applied by the zoo")
    run = _Run(p, proto, net, got, ck, dev, batch_size, log, feature_cache)
    if p.recipe == "promptable-segmentation":
        return _verify_segmentation(p, proto, model, net, got, test, subsampled, dev, batch_size, records, n_boot,
                                    seed, log)
    t0 = time.perf_counter()
    if p.recipe == "zero-shot-classification":
        prob = run.zero_shot(test, got.path, trust_remote_code)[:, None]  # N × 1 run × C
        classes = np.arange(len(p.result.class_prompts.classes))
        n_seen = len(test.labels)
    else:
        ftr, fte = run.features(train, "train"), run.features(test, "test")
        val = run.validation(data) if proto.used.get("head.patience") else None
        classes, prob = run.head(ftr, train.labels, fte, val)
        n_seen = len(train.labels) + len(test.labels)
    elapsed = time.perf_counter() - t0
    fn = METRIC_FNS[p.result.metric]
    averaging = proto.used.get("averaging")
    try:
        value = _over_runs(fn, test.labels, prob, classes, averaging)
    except ValueError as e:
        raise VerifyError(f"{p.result.metric}: {e}") from None
    lo, hi = _ci(lambda y, pr: _over_runs(fn, y, pr, classes, averaging), test.labels, prob, n=n_boot, seed=seed)
    delta = value - p.reported
    verdict = _verdict(delta, lo, hi, p, subsampled, proto)
    record = _record(p, proto, model, value, lo, hi, delta, verdict, int(len(test.labels)), subsampled, dev, got,
                     test, n_seen / max(elapsed, 1e-9))
    if prob.shape[1] > 1:
        record["runs"] = [float(fn(test.labels, prob[:, s], classes, averaging)) for s in range(prob.shape[1])]
    record["file"] = str(write_record(record, records))
    return record


def _over_runs(fn, y, prob, classes, averaging) -> float:
    """The metric averaged over the runs (seeds) in prob (N × runs × C)."""
    return float(np.mean([fn(y, prob[:, s], classes, averaging) for s in range(prob.shape[1])]))


class _Run:
    """One verification's model, resolved protocol and feature cache."""

    def __init__(self, p, proto: Resolved, net, got, ck, dev, batch_size, log, cache):
        self.p, self.proto, self.net, self.got, self.ck = p, proto, net, got, ck
        self.dev, self.batch_size, self.log = dev, batch_size, log
        self.cache = Path(cache) if cache else None

    def _pre(self) -> dict:
        u = self.proto.used
        out = {"size": int(u["size"]), "resize": u["resize"], "crop": u.get("crop")}
        out["mean"], out["std"] = tuple(u["mean"]), tuple(u["std"])
        return out

    def cache_key(self, split, name: str) -> str:
        doc = {"v": FEATURE_CACHE_VERSION, "sha256": sorted(self.got.sha256.items()), "revision": self.got.revision,
               "format": self.ck.format if self.ck else None, "data": split.fingerprint, "split": name,
               "n": int(len(split.labels)), "pre": {k: list(v) if isinstance(v, tuple) else v
                                                    for k, v in sorted(self._pre().items())}}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def features(self, split, name: str) -> np.ndarray:
        from .recipes import features

        path = self.cache / f"{self.cache_key(split, name)}.npy" if self.cache else None
        if path is not None and path.is_file():
            try:
                arr = np.load(path, allow_pickle=False)
                if len(arr) == len(split.labels):
                    self.log(f"features of the {name} split from the cache ({path.name})")
                    return arr
            except (OSError, ValueError):
                pass  # a damaged cache file is recomputed and replaced
        arr = features(self.net, split.images, batch_size=self.batch_size, device=self.dev, log=self.log,
                       **self._pre())
        if path is not None:
            from fmreview.catalog.yamlio import write_bytes_atomic

            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, buf.getvalue())
        return arr

    def validation(self, data):
        """(features, labels) of the data's validation split for early stopping, or None (then the protocol's
        patience is not applied, and the record says so)."""
        try:
            val = load_split(data, "val")
            check_classes(val, "val")
        except DataError:
            self.proto.not_applied.append("head.patience (the data have no usable validation split)")
            return None
        return self.features(val, "val"), val.labels

    def head(self, ftr, ytr, fte, val=None):
        """(classes, probabilities N × runs × C) from the protocol's head, one run per seed for a trained one."""
        from .recipes import knn, linear_head, linear_probe

        kw = head_kwargs(self.proto)
        kind = kw.pop("kind")
        if val is not None:
            kw["val_x"], kw["val_y"] = val
        if kind == "knn":
            classes, prob = knn(ftr, ytr, fte, **kw)
            return classes, prob[:, None]
        if kind == "logistic-regression":
            classes, prob = linear_probe(ftr, ytr, fte, seed=self.proto.used["seeds"][0], **kw)
            return classes, prob[:, None]
        runs = []
        for s in self.proto.used["seeds"]:
            classes, prob = linear_head(ftr, ytr, fte, seed=s, **kw)
            runs.append(prob)
        return classes, np.stack(runs, axis=1)

    def zero_shot(self, test, folder, trust_remote_code):
        from .recipes import zero_shot_classification

        cp = self.p.result.class_prompts
        kw = head_kwargs(self.proto)
        # templates: the result's own class_prompts when it states them, else the protocol's, else "{}"
        if "templates" in cp.model_fields_set:
            templates = cp.templates
            self.proto.set("head.templates", list(templates), "result class_prompts")
        else:
            templates = kw.get("templates") or ["{}"]
        if hasattr(self.net, "text_features"):
            tokenizer = None
        else:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        pre = self._pre()
        img = self.features(test, "test")
        return zero_shot_classification(self.net, tokenizer, test.images, cp.classes, templates,
                                        batch_size=self.batch_size, device=self.dev, log=self.log,
                                        negative_templates=kw.get("negative_templates"),
                                        logit_scale=kw.get("logit_scale", 100.0), image_features=img, **pre)


def _record(p, proto, model, value, lo, hi, delta, verdict, n, subsampled, dev, got, test, ips) -> dict:
    rec = {
        "result": p.result.id, "model": model, "dataset": p.result.dataset, "metric": p.result.metric,
        "recipe": p.recipe, "reported": p.reported, "reproduced": value, "ci_low": lo, "ci_high": hi,
        "ci_level": 0.95, "delta": delta, "tolerance": p.tolerance, "verdict": verdict, "n": n,
        "subsampled": subsampled, "device": dev, "precision": precision(dev), "checkpoint_revision": got.revision,
        "checkpoint_sha256": got.sha256, "checkpoint_pinned": got.pinned,
        "dataset_fingerprint": test.fingerprint, "data_source": test.source,
        "images_per_second": float(ips), "protocol": proto.record(),
        "packages": _versions(), "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if verdict == "indicative":
        rec["verdict_note"] = INDICATIVE_NOTE
    return rec


def _data(cat, p: Plan, data, limit):
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
        _check_class_count(cat, p, train, "train")
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


def _verdict(delta: float, lo: float, hi: float, p: Plan, subsampled: bool, proto: Resolved | None = None) -> str:
    if proto is not None and not proto.known:
        return "indicative"
    if subsampled:
        return "inconclusive"
    if abs(delta) <= p.tolerance:
        return "reproduced"
    if not (lo <= p.reported <= hi):
        return "not reproduced"
    return "inconclusive"


def _verify_segmentation(p, proto, model, net, got, test, subsampled, dev, batch_size, records, n_boot, seed,
                         log) -> dict:
    from .recipes import IMAGENET_MEAN, IMAGENET_STD, promptable_segmentation

    u = proto.used
    if u.get("mean") is None:
        proto.set("mean", list(IMAGENET_MEAN), "zoo default (SAM's)")
        proto.set("std", list(IMAGENET_STD), "zoo default (SAM's)")
    if u.get("resize") != "longest-edge":
        proto.not_applied.append(f"resize ({u.get('resize')}: the box-prompt recipe resizes the longest edge)")
    images, masks = test.images, test.labels
    t0 = time.perf_counter()
    pred, keep = promptable_segmentation(net, images, masks, batch_size=batch_size, device=dev, log=log,
                                         size=int(u["size"]), mean=tuple(u["mean"]), std=tuple(u["std"]),
                                         mask_selection=u["head.mask_selection"])
    elapsed = time.perf_counter() - t0
    if not keep:
        raise VerifyError("no case has a foreground mask, so no box prompt can be derived")
    gt = masks[keep] > 0
    metric = M.dice if p.result.metric == "dice" else M.nsd
    per_case = np.array([metric(a, b) for a, b in zip(pred, gt)])
    value = float(per_case.mean())
    lo, hi = _ci(lambda v: float(np.mean(v)), per_case, n=n_boot, seed=seed)
    delta = value - p.reported
    record = _record(p, proto, model, value, lo, hi, delta, _verdict(delta, lo, hi, p, subsampled, proto),
                     int(len(keep)), subsampled, dev, got, test, len(keep) / max(elapsed, 1e-9))
    record["file"] = str(write_record(record, records))
    return record
