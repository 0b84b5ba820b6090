"""Zoo entries: every catalog model with a public checkpoint, and the catalog results it can re-run.

An entry carries what torchvision's weights API carries: where the weights live (hub, repo id, pinned
revision, files with sha256), their format, licence and gating, the preprocessing the encoder expects, and the
reported numbers it can be checked against through a recipe.
"""

from __future__ import annotations

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
    raise LookupError(f"no model {model!r} in the catalog")
