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


def kind_of(path: Path, root: Path) -> str | None:
    """The entity kind of a catalog file: the first folder under the catalog root (papers, models, …)."""
    try:
        top = Path(path).resolve().relative_to(Path(root).resolve()).parts[0]
    except (ValueError, IndexError):
        return None
    return top if top in KINDS else None


def format_catalog(root: Path | str | None = None, *, check: bool = False, files=None) -> list[Path]:
    """Rewrite (or with check=True only list) the files that are not in canonical form: every catalog file, or
    only ``files`` (paths inside the catalog; a path outside it raises ValueError naming it)."""
    root = Path(root) if root else default_root()
    if files:
        todo = []
        for f in files:
            kind = kind_of(Path(f), root)
            if kind is None:
                raise ValueError(f"{f}: not a catalog file under {root}/{{{','.join(KINDS)}}}")
            if not Path(f).is_file():
                raise ValueError(f"{f}: no such file")
            todo.append((kind, Path(f)))
    else:
        todo = [(kind, path) for kind in KINDS for path in sorted((root / kind).glob("**/*.yaml"))]
    changed = []
    for kind, path in todo:
        text = canonical_text(path, kind)
        if text is None or text == path.read_text(encoding="utf-8"):
            continue
        changed.append(path)
        if not check:
            yamlio.write_atomic(path, text)
    return changed
