"""The critical-difference diagram of a rank comparison (fmreview.analysis.ranks.RankComparison).

Demšar (2006, Fig. 1 and 2): treatments on an axis of mean ranks with rank 1 (the best) at the left, the better
half labelled on the left and the worse half on the right, thick bars joining groups whose mean ranks lie within
the Nemenyi critical difference (not significantly different), and the CD itself drawn as an interval above.
"""

from __future__ import annotations

import math

from .plotting import PALETTE, plt


def cd_diagram(result, *, title: str | None = None, width: float = 7.0):
    """Critical-difference diagram of ``result`` (a RankComparison); returns the matplotlib figure."""
    k, ranks, names = result.k, list(result.mean_ranks), [str(t) for t in result.treatments]
    cliques = result.cliques()
    position = {str(t): r for t, r in zip(result.treatments, ranks)}
    n_left = math.ceil(k / 2)
    row, clique_gap, y_cd = 0.4, 0.14, -0.8
    first_row = 0.3 + clique_gap * max(len(cliques), 1)  # the labels start below the clique bars
    bottom = first_row + row * (n_left - 1) + 0.55
    fig, ax = plt.subplots(figsize=(width, 0.5 * (bottom - y_cd + 0.45)))  # 0.5 inch per unit of y
    ax.set_axis_off()
    lo, hi = 1, max(k, 2)

    # rank axis at y = 0 (y grows downward), integer ticks labelled, half ranks marked
    ax.plot([lo, hi], [0, 0], color="black", lw=1)
    for i in range(lo, hi + 1):
        ax.plot([i, i], [0, -0.12], color="black", lw=1)
        ax.text(i, -0.18, str(i), ha="center", va="bottom", fontsize=8)
        if i < hi:
            ax.plot([i + 0.5, i + 0.5], [0, -0.06], color="black", lw=0.7)
    ax.text((lo + hi) / 2, bottom, "Mean rank (1 = best)", ha="center", va="bottom", fontsize=8, color="#444444")

    # the CD interval, from rank 1 to the right, above the axis
    ax.plot([lo, lo + result.cd], [y_cd, y_cd], color="black", lw=1.2)
    for x in (lo, lo + result.cd):
        ax.plot([x, x], [y_cd - 0.06, y_cd + 0.06], color="black", lw=1.2)
    ax.text(lo + result.cd / 2, y_cd - 0.1, f"CD = {result.cd:.2f} (α = {result.alpha:g})", ha="center",
            va="bottom", fontsize=8)

    # treatments: a line down from its mean rank, then out to its side; rows ordered so lines never cross
    left_x, right_x = lo - 0.15 * (hi - lo) - 0.2, hi + 0.15 * (hi - lo) + 0.2
    for i, (name, r) in enumerate(zip(names, ranks)):
        if i < n_left:
            y, end, ha = first_row + row * i, left_x, "right"
        else:
            y, end, ha = first_row + row * (k - 1 - i), right_x, "left"
        ax.plot([r, r, end], [0, y, y], color="#333333", lw=0.8)
        ax.plot([r], [0], marker="o", ms=3, color=PALETTE[0], zorder=3)
        pad = -0.05 if ha == "right" else 0.05
        ax.text(end + pad, y, f"{name} ({r:.2f})", ha=ha, va="center", fontsize=8.5)

    # cliques: thick bars spanning each group not significantly different, stacked beneath the axis
    for j, group in enumerate(cliques):
        y = 0.25 + clique_gap * j
        a, b = position[str(group[0])], position[str(group[-1])]
        ax.plot([a - 0.04, b + 0.04], [y, y], color=PALETTE[3], lw=3.2, solid_capstyle="round", zorder=4)

    ax.set_xlim(left_x, right_x)
    ax.set_ylim(bottom, y_cd - 0.45)
    if title:
        ax.set_title(title, loc="left")
    return fig
