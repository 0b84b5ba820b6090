"""Canonical form of catalog files: keys in schema order, block style, UTF-8; ``fmreview catalog fmt``."""

from __future__ import annotations

from pathlib import Path

from . import schema, yamlio
from .store import KINDS, default_root


def canonical_text(path: Path, kind: str) -> str | None:
    data, problems = yamlio.read(path)
    if problems:
        return None
    return yamlio.dumps(yamlio.canonical_order(data, schema.ENTITIES[kind]))


def format_catalog(root: Path | str | None = None, *, check: bool = False) -> list[Path]:
    """Rewrite (or with check=True only list) the files that are not in canonical form."""
    root = Path(root) if root else default_root()
    changed = []
    for kind in KINDS:
        for path in sorted((root / kind).glob("**/*.yaml")):
            text = canonical_text(path, kind)
            if text is None or text == path.read_text(encoding="utf-8"):
                continue
            changed.append(path)
            if not check:
                yamlio.write_atomic(path, text)
    return changed
