"""Figures of a network meta-analysis: the network graph (netmeta's netgraph) and the forest plot of every
treatment against the reference."""

from __future__ import annotations

import numpy as np

from .plotting import PALETTE, plt


def netgraph(fit, title=None):
    """Treatments on a circle; an edge for each pair compared directly, its width growing with the number of
    studies that compare them (the edge label)."""
    trts = fit.treatments
    n = len(trts)
    ang = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    pos = {t: (np.cos(a), np.sin(a)) for t, a in zip(trts, ang)}
    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    wmax = max(int(fit.edges.studies.max()), 1) if len(fit.edges) else 1
    for e in fit.edges.itertuples():
        (x0, y0), (x1, y1) = pos[e.a], pos[e.b]
        ax.plot([x0, x1], [y0, y1], color="#8a8a8a", lw=0.8 + 5 * e.studies / wmax, zorder=1, solid_capstyle="round")
        if n <= 12:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, str(e.studies), fontsize=7, ha="center", va="center",
                    color="#333333", bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"), zorder=2)
    for t, (x, y) in pos.items():
        ax.scatter([x], [y], s=60, color=PALETTE[0], zorder=3)
        ax.text(1.12 * x, 1.12 * y, t, fontsize=8, ha="left" if x > 0.05 else "right" if x < -0.05 else "center",
                va="center")
    ax.set_xlim(-1.9, 1.9)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"Network: {n} treatments, {fit.n_studies} studies (edge label: studies)", loc="left")
    return fig


def nma_forest(fit, xlabel="Difference against the reference", title=None):
    """Each treatment against the reference with its CI, best P-score on top."""
    ps = fit.pscore
    eff = sorted(fit.effects, key=lambda e: ps[e["treatment"]])
    k = len(eff)
    fig, ax = plt.subplots(figsize=(6.8, 1.2 + 0.3 * (k + 1)))
    rows = np.arange(k)
    ax.hlines(rows, [e["ci_low"] for e in eff], [e["ci_high"] for e in eff], color="#333333", lw=1)
    ax.scatter([e["estimate"] for e in eff], rows, marker="s", color=PALETTE[0], zorder=3, s=22)
    ax.axvline(0, color="#999999", lw=0.8, ls="--")
    ax.set_yticks(rows)
    ax.set_yticklabels([f"{e['treatment']}  (P = {ps[e['treatment']]:.2f})" for e in eff])
    ax.set_xlabel(f"{xlabel} ({fit.reference})")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    model = "random effects" if fit.has_variances else "additive model, no sampling variances"
    ax.set_title(title or f"Against {fit.reference} ({model}; {100 * fit.level:.0f}% CI)", loc="left")
    return fig
