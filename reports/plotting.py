"""Matplotlib set-up shared by every figure: headless, deterministic files (fixed SVG hash salt, no dates),
one readable style, atomic writes of SVG and PNG."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fmreview.catalog.yamlio import write_bytes_atomic  # noqa: E402

STYLE = {
    "svg.hashsalt": "fmreview",
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "figure.max_open_warning": 0,  # the report holds its figures until it writes them all at once
}
plt.rcParams.update(STYLE)

PALETTE = ["#1b6ca8", "#e07b39", "#3a9b5c", "#c2413a", "#7d5ba6", "#8c6d31", "#d17fb6", "#6b6b6b", "#b5bd35", "#2cb5c0"]


def figure_bytes(fig, fmt: str = "svg") -> bytes:
    """The figure as SVG or PNG bytes, deterministically (no date in SVG, no software tag in PNG)."""
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    with plt.rc_context(STYLE):
        fig.savefig(buf, format=fmt, metadata=meta)
    return buf.getvalue()


def save(fig, path: Path | str, formats=("svg", "png")) -> list[Path]:
    """Write fig as path.svg and path.png (deterministically, atomically); returns the paths written."""
    path = Path(path)
    out = []
    for fmt in formats:
        target = path.with_suffix("." + fmt)
        write_bytes_atomic(target, figure_bytes(fig, fmt))
        out.append(target)
    plt.close(fig)
    return out


def save_as(fig, path: Path | str) -> list[Path]:
    """Write fig where the user asked: PATH.svg, .png or .pdf in that format; any other name as SVG and PNG
    beside it (the suffix replaced)."""
    path = Path(path)
    fmt = path.suffix.lower()[1:]
    return save(fig, path, formats=(fmt,) if fmt in ("svg", "png", "pdf") else ("svg", "png"))
