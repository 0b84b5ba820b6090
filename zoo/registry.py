"""Zoo entries: every catalog model with a public checkpoint, and the catalog results it can re-run.

An entry carries what torchvision's weights API carries: where the weights live (hub, repo id, pinned
revision, files with sha256), their format, licence and gating, the preprocessing the encoder expects, and the
reported numbers it can be checked against through a recipe.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import pandas as pd

RECIPES = ("linear-probe", "knn", "zero-shot-classification", "promptable-segmentation")


# what each recipe needs the zoo to load: an image encoder (transformers, open_clip, timm), CLIP-style image and
# text towers (transformers, open_clip), a SAM-style promptable model (transformers). A plain torch state dict
# carries no architecture, so nothing can be re-run from it.
_LOADS = {
    "linear-probe": {None, "transformers", "open_clip", "timm"},
    "knn": {None, "transformers", "open_clip", "timm"},
    "zero-shot-classification": {None, "transformers", "open_clip"},
    "promptable-segmentation": {None, "transformers"},
}


def recipe_for(result, family: str, fmt: str | None = None) -> str | None:
    """Which recipe re-runs a reported result with a checkpoint of format ``fmt`` (None if none fits)."""
    recipe = None
    if result.setting == "linear-probe" and result.task == "classification":
        recipe = "linear-probe"
    elif result.setting == "knn" and result.task == "classification":
        recipe = "knn"
    elif result.setting == "zero-shot" and result.task == "classification" and family == "vision-language":
        recipe = "zero-shot-classification"
    elif result.task == "segmentation" and result.prompt == "box" and result.metric in ("dice", "nsd"):
        recipe = "promptable-segmentation"
    return recipe if recipe and fmt in _LOADS[recipe] else None


@dataclass
class ZooEntry:
    model: str
    name: str
    checkpoint: object  # fmreview.catalog.schema.Checkpoint
    family: str
    results: list[tuple[str, str]] = field(default_factory=list)  # (result id, recipe)

    @property
    def repo_id(self) -> str | None:
        return self.checkpoint.repo_id

    def row(self) -> dict:
        c = self.checkpoint
        pre = c.preprocessing
        return {
            "model": self.model, "name": self.name, "hub": c.hub, "repo_id": c.repo_id, "revision": c.revision,
            "format": c.format, "gated": c.gated, "licence": c.licence,
            "files": [f.path for f in c.files], "sha256_pinned": all(f.sha256 for f in c.files) and bool(c.files),
            "image_size": pre.image_size if pre else None,
            "recipes": sorted({r for _, r in self.results}), "results": [rid for rid, _ in self.results],
        }


def registry(cat, *, hub: str | None = "huggingface") -> list[ZooEntry]:
    """Zoo entries for a loaded catalog (one per model checkpoint on ``hub``; None = any host)."""
    raw = cat.raw
    by_model: dict[str, list] = {}
    for e in raw.result_files:
        for r in e.record.results:
            by_model.setdefault(r.model, []).append(r)
    out = []
    for mid in sorted(raw.models):
        m = raw.models[mid].record
        for c in m.checkpoints:
            if hub and c.hub != hub:
                continue
            rs = [(r.id, recipe_for(r, m.family, c.format)) for r in by_model.get(mid, [])]
            out.append(ZooEntry(mid, m.name, c, m.family, [(i, rc) for i, rc in rs if rc]))
    return out


def registry_frame(cat, hub: str | None = "huggingface") -> pd.DataFrame:
    rows = [e.row() for e in registry(cat, hub=hub)]
    cols = ["model", "name", "hub", "repo_id", "revision", "format", "gated", "licence", "files", "sha256_pinned",
            "image_size", "recipes", "results"]
    return pd.DataFrame(rows, columns=cols)


def entry(cat, model: str, hub: str | None = "huggingface") -> ZooEntry:
    for e in registry(cat, hub=hub):
        if e.model == model:
            return e
    if model in cat.raw.models:
        hosts = sorted({c.hub for c in cat.raw.models[model].record.checkpoints}) or ["none listed"]
        raise LookupError(f"model {model!r} has no checkpoint the zoo can download (hosts: {', '.join(hosts)}); "
                          "use --checkpoint local-dir:PATH for weights you already have")
    raise LookupError(unknown_id("model", model, cat.raw.models))


def unknown_id(kind: str, value: str, known) -> str:
    """``no model 'tinyvitt' in the catalog; did you mean 'tinyvit'?`` (close matches by difflib, any case)."""
    known = sorted(known)
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(str(value).lower(), list(by_lower), n=3, cutoff=0.6)
    if close:  # only the suggestions about as close as the best one: a clear typo gets one answer
        score = {c: difflib.SequenceMatcher(None, str(value).lower(), c).ratio() for c in close}
        close = [c for c in close if score[c] >= score[close[0]] - 0.1]
    msg = f"no {kind} {value!r} in the catalog"
    if close:
        names = [repr(by_lower[c]) for c in close]
        msg += "; did you mean " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]) + "?"
    return msg


def require_model(cat, model: str) -> None:
    """LookupError with a did-you-mean unless ``model`` is a catalog model id."""
    if model not in cat.raw.models:
        raise LookupError(unknown_id("model", model, cat.raw.models))


def require_result(cat, result_id: str, model: str | None = None) -> None:
    """LookupError with a did-you-mean unless ``result_id`` is a catalog result (of ``model``, when given)."""
    owner = {r.id: r.model for e in cat.raw.result_files for r in e.record.results}
    if result_id not in owner:
        own = [i for i, m in owner.items() if m == model] if model else []
        # suggest the model's own results first: a typo of one of them is the likeliest mistake
        msg = unknown_id("result", result_id, own) if own else ""
        if "did you mean" not in msg:
            msg = unknown_id("result", result_id, owner)
        raise LookupError(msg)
    if model and owner[result_id] != model:
        raise LookupError(f"result {result_id!r} is a result of model {owner[result_id]!r}, not {model!r}")
