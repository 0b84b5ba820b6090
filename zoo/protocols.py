"""The protocol a reported number was measured under, resolved for a re-run.

A catalog result names a protocol (``protocol: ID``, a file ``protocols/ID.yaml``) or states one inline
(``protocol: {…}``). :func:`resolve` turns either into a :class:`Resolved`: the fields the source stated, and for
everything a recipe needs, the value the re-run uses and where it came from (``protocol``, ``catalog checkpoint``,
``checkpoint config`` or ``zoo default``). A result with no protocol resolves to an unknown one: the re-run still
happens, with the zoo's defaults, and its verdict is "indicative" (see :mod:`fmreview.zoo.verify`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .registry import unknown_id

# the head each recipe fits on the encoder, as a protocol's head.kind
HEAD_KINDS = {
    "linear-probe": ("linear", "logistic-regression"),
    "knn": ("knn",),
    "zero-shot-classification": ("zero-shot",),
    "promptable-segmentation": ("box-prompt",),
}

# what the zoo does where a protocol states nothing (each one is named in the record as a "zoo default")
DEFAULT_HEAD = {
    "linear-probe": {"kind": "logistic-regression", "optimiser": "lbfgs", "l2": 1e-3, "max_iter": 200},
    "knn": {"kind": "knn", "k": 20, "temperature": 0.07, "weighting": "exp-similarity", "distance": "cosine",
            "center": False, "normalise": False},
    "zero-shot-classification": {"kind": "zero-shot", "templates": ["{}"], "logit_scale": 100.0},
    "promptable-segmentation": {"kind": "box-prompt", "mask_selection": "single"},
}
# a linear head trained by gradient descent, where the protocol names the optimiser but not every setting
DEFAULT_LINEAR = {"epochs": 100, "learning_rate": 1e-3, "batch_size": 256, "weight_decay": 0.0, "momentum": 0.9}
DEFAULT_AVERAGING = {"auc": "macro"}
# the heads that depend on a seed (a trained layer); kNN, zero-shot and a convex logistic fit do not
SEEDED_HEADS = ("linear",)


class ProtocolError(Exception):
    """A result's protocol cannot be resolved or does not fit the recipe (the message says what to fix)."""


@dataclass
class Resolved:
    id: str | None                 # the named protocol's id (None: inline block or unknown)
    origin: str                    # "named" | "inline" | "unknown"
    spec: object | None            # fmreview.catalog.schema.ProtocolSpec / Protocol, as stated
    file: str | None = None        # protocols/ID.yaml for a named one
    used: dict = field(default_factory=dict)     # field -> value the re-run used
    provenance: dict = field(default_factory=dict)  # field -> where that value came from
    not_applied: list[str] = field(default_factory=list)  # stated fields the zoo cannot honour (named here)

    @property
    def known(self) -> bool:
        return self.origin != "unknown"

    def stated(self) -> dict:
        if self.spec is None:
            return {}
        return self.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)

    def set(self, name: str, value, where: str) -> None:
        self.used[name] = value
        self.provenance[name] = where

    def record(self) -> dict:
        """The record's ``protocol`` entry: id, origin, the stated fields and the resolved ones."""
        return {"id": self.id, "origin": self.origin, "file": self.file, "stated": self.stated(),
                "used": dict(self.used), "provenance": dict(self.provenance), "not_applied": list(self.not_applied)}


def resolve(cat, result) -> Resolved:
    """The protocol of a catalog ``result`` (named, inline or unknown), not yet filled for a recipe."""
    ref = getattr(result, "protocol", None)
    if ref is None:
        return Resolved(None, "unknown", None)
    if isinstance(ref, str):
        protocols = getattr(cat.raw, "protocols", {}) or {}
        if ref not in protocols:
            raise ProtocolError(f"result {result.id!r} names protocol {ref!r}: "
                                + unknown_id("protocol", ref, protocols).replace("no protocol", "there is no protocol", 1)
                                + " (catalog/data/protocols/ID.yaml)")
        e = protocols[ref]
        return Resolved(ref, "named", e.record, file=e.file)
    return Resolved(None, "inline", ref)


def check_head(res: Resolved, recipe: str) -> None:
    """ProtocolError unless the protocol's head (if it states one) is what ``recipe`` fits, on a frozen backbone."""
    if getattr(res.spec, "backbone", None) == "trained":
        where = f"protocol {res.id!r}" if res.id else "the inline protocol"
        raise ProtocolError(f"{where} trains the backbone end to end; the zoo's {recipe} recipe runs on a frozen "
                            "backbone, so it cannot re-run this result")
    head = getattr(res.spec, "head", None)
    if head is not None and head.kind not in HEAD_KINDS[recipe]:
        where = f"protocol {res.id!r}" if res.id else "the inline protocol"
        raise ProtocolError(f"{where} has a {head.kind} head, but the result is re-run by the {recipe} recipe "
                            f"(expected head kind {' or '.join(HEAD_KINDS[recipe])}); fix the result's setting or "
                            "its protocol")


def fill(res: Resolved, recipe: str, *, checkpoint_pre: dict | None, model_pre: dict | None, metric: str,
         seed: int = 0) -> Resolved:
    """Fill ``res.used`` with everything ``recipe`` needs: preprocessing, head, seeds, averaging.

    Precedence per field: the protocol (what the source did) > the catalog checkpoint's preprocessing > what the
    checkpoint's own config declares > the zoo's default. Raises ProtocolError when the protocol's head does not
    fit the recipe (a knn protocol on a linear-probe result is a catalog mistake, not something to guess around).
    """
    check_head(res, recipe)
    spec = res.spec
    head = getattr(spec, "head", None)
    sources = [("protocol", _pre_of(spec)), ("catalog checkpoint", checkpoint_pre or {}),
               ("checkpoint config", model_pre or {})]
    defaults = {"size": 1024 if recipe == "promptable-segmentation" else 224,
                "resize": "longest-edge" if recipe == "promptable-segmentation" else "square",
                "crop": "none", "mean": None, "std": None}
    for name, default in defaults.items():
        for where, pre in sources:
            if pre.get(name) is not None:
                value = pre[name]
                res.set(name, list(value) if isinstance(value, tuple) else value, where)
                break
        else:
            if default is not None:
                res.set(name, default, "zoo default")
    if res.used.get("resize") == "shortest-edge" and "crop" not in _pre_of(spec) and res.provenance.get("crop") == "zoo default":
        res.set("crop", "center", "zoo default")

    base = dict(DEFAULT_HEAD[recipe])
    stated = head.model_dump(exclude_none=True) if head is not None else {}
    stated.pop("note", None)
    if stated.get("kind") == "linear":
        base = {"kind": "linear", "optimiser": "sgd", **DEFAULT_LINEAR}
    elif stated.get("kind") == "logistic-regression":
        base = dict(DEFAULT_HEAD["linear-probe"])
    for name, value in base.items():
        if name in stated:
            res.set(f"head.{name}", stated[name], "protocol")
        else:
            res.set(f"head.{name}", value, "zoo default")
    for name, value in stated.items():
        if f"head.{name}" not in res.used:
            res.set(f"head.{name}", value, "protocol")
    if "early_stopping" in stated and "patience" not in stated:  # words only: the zoo trains every epoch
        res.not_applied.append("head.early_stopping")
    if "patience" in stated and "monitor" not in stated:
        res.set("head.monitor", "loss", "zoo default")
    if "schedule" in stated and schedule_name(stated["schedule"]) is None:
        res.not_applied.append("head.schedule")

    if res.used["head.kind"] in SEEDED_HEADS:
        if getattr(spec, "seeds", None):
            res.set("seeds", list(spec.seeds), "protocol")
        elif getattr(spec, "runs", None):
            res.set("seeds", list(range(seed, seed + spec.runs)), "protocol runs, zoo seeds")
        else:
            res.set("seeds", [seed], "zoo default")
    else:
        res.set("seeds", [seed], "zoo default" if not getattr(spec, "seeds", None) else "protocol (first; head is "
                "deterministic)")
    avg = getattr(spec, "averaging", None)
    if metric in DEFAULT_AVERAGING:
        res.set("averaging", avg or DEFAULT_AVERAGING[metric], "protocol" if avg else "zoo default")
    elif avg:
        res.set("averaging", avg, "protocol")
    for name in ("train_split", "test_split"):
        if getattr(spec, name, None):
            res.set(name, getattr(spec, name), "protocol")
    return res


def _pre_of(spec) -> dict:
    if spec is None:
        return {}
    out = {"size": spec.input_size, "resize": spec.resize, "crop": spec.crop, "mean": spec.mean, "std": spec.std}
    return {k: v for k, v in out.items() if v is not None}


def head_kwargs(res: Resolved) -> dict:
    """The resolved head as keyword arguments (``head.k`` -> ``k``)."""
    return {k[5:]: v for k, v in res.used.items() if k.startswith("head.")}


def schedule_name(text: str | None) -> str | None:
    """'cosine' or 'constant' from a schedule in the source's words; None for one the zoo does not implement."""
    if not text:
        return "constant"
    t = text.lower()
    if "cosine" in t:
        return "cosine"
    if t.strip() in ("constant", "none", "fixed"):
        return "constant"
    return None
