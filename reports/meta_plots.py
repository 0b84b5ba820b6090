"""Forest, funnel and bubble plots of fitted models (fmreview.analysis.rma.RMA)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from .plotting import PALETTE, plt


def forest(fit, *, labels=None, xlabel="Effect size", transform=None, title=None):
    """Study rows with CIs and weights, the pooled diamond and the prediction interval."""
    labels = list(labels) if labels is not None else fit.labels
    k = fit.k
    z = stats.norm.ppf(0.5 + fit.level / 2)
    se = np.sqrt(fit.vi)
    lo, hi, y = fit.yi - z * se, fit.yi + z * se, fit.yi
    tf = transform or (lambda x: x)
    wt = fit.weights_percent()
    height = 1.2 + 0.28 * (k + 3)
    fig, ax = plt.subplots(figsize=(7.5, height))
    rows = np.arange(k, 0, -1) + 1.5
    ax.hlines(rows, tf(lo), tf(hi), color="#333333", lw=1)
    ax.scatter(tf(y), rows, s=12 + 60 * wt / wt.max(), marker="s", color=PALETTE[0], zorder=3)
    pr = fit.predict() if fit.intercept_only else None
    if pr:
        m, cl, ch = pr["pred"], pr["ci_low"], pr["ci_high"]
        ax.fill([tf(cl), tf(m), tf(ch), tf(m)], [0.5, 0.8, 0.5, 0.2], color=PALETTE[1], zorder=3)
        if np.isfinite(pr["pi_low"]):
            ax.hlines(0.5, tf(pr["pi_low"]), tf(pr["pi_high"]), color=PALETTE[1], lw=1, ls="--")
        ax.axvline(tf(m), color=PALETTE[1], lw=0.6, ls=":")
    ax.set_yticks(list(rows) + [0.5])
    model = "EE model" if fit.method in ("EE", "FE") else f"RE model ({fit.method})"
    ax.set_yticklabels(labels + [model])
    ax.set_ylim(-0.2, k + 2.3)
    ax.set_xlabel(xlabel)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    # right-hand columns: estimate [CI] and weight
    trans = ax.get_yaxis_transform()
    ax.text(1.02, k + 2.1, "Estimate [95% CI]", transform=trans, fontsize=8, weight="bold", va="center")
    ax.text(1.42, k + 2.1, "Weight", transform=trans, fontsize=8, weight="bold", va="center")
    for r, a, b, c, w in zip(rows, y, lo, hi, wt):
        ax.text(1.02, r, f"{tf(a):.2f} [{tf(b):.2f}, {tf(c):.2f}]", transform=trans, fontsize=8, va="center")
        ax.text(1.42, r, f"{w:.1f}%", transform=trans, fontsize=8, va="center")
    if pr:
        ax.text(1.02, 0.5, f"{tf(pr['pred']):.2f} [{tf(pr['ci_low']):.2f}, {tf(pr['ci_high']):.2f}]",
                transform=trans, fontsize=8, va="center", weight="bold")
    foot = f"τ² = {fit.tau2:.4g}, I² = {fit.i2:.1f}%, Q({fit.q_df}) = {fit.q:.2f}, p = {fit.q_pval:.3g}"
    ax.set_title(title or "", loc="left")
    ax.annotate(foot, xy=(0, 0), xycoords="axes fraction", xytext=(0, -36), textcoords="offset points",
                fontsize=7.5, color="#444444", va="top")
    return fig


def funnel(fit, *, xlabel="Effect size", contours=True, filled=None, title=None):
    """Effect vs standard error with the pseudo-95% region; optional significance contours and filled studies."""
    se = np.sqrt(fit.vi)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    top = float(se.max()) * 1.05
    centre = fit.estimate
    s = np.linspace(0, top, 100)
    if contours:
        for level, shade in ((0.99, "#f0f0f0"), (0.95, "#d9d9d9"), (0.90, "#bdbdbd")):
            zc = stats.norm.ppf(0.5 + level / 2)
            ax.fill_betweenx(s, -zc * s, zc * s, color=shade, zorder=0, lw=0)
    z = stats.norm.ppf(0.975)
    ax.plot(centre - z * s, s, color="#555555", lw=0.8, ls="--")
    ax.plot(centre + z * s, s, color="#555555", lw=0.8, ls="--")
    ax.axvline(centre, color="#555555", lw=0.8)
    ax.scatter(fit.yi, se, color=PALETTE[0], s=18, zorder=3, label="studies")
    if filled is not None and len(filled[0]):
        ax.scatter(filled[0], np.sqrt(filled[1]), facecolor="white", edgecolor=PALETTE[3], s=18, zorder=3,
                   label="filled (trim-and-fill)")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_ylim(top, 0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Standard error")
    if title:
        ax.set_title(title, loc="left")
    return fig


def bubble(fit, moderator: int = 1, *, xlabel="Moderator", ylabel="Effect size", title=None):
    """Meta-regression bubble plot: studies sized by weight, with the fitted line and its CI."""
    x = fit.X[:, moderator]
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    w = fit.weights_percent()
    ax.scatter(x, fit.yi, s=20 + 8 * w, color=PALETTE[0], alpha=0.6, edgecolor="white")
    grid = np.linspace(x.min(), x.max(), 50)
    base = fit.X.mean(axis=0)
    Xg = np.tile(base, (50, 1))
    Xg[:, moderator] = grid
    pred = Xg @ fit.beta
    sep = np.sqrt(np.einsum("ij,jk,ik->i", Xg, fit.vb, Xg))
    z = stats.norm.ppf(0.5 + fit.level / 2)
    ax.plot(grid, pred, color=PALETTE[1])
    ax.fill_between(grid, pred - z * sep, pred + z * sep, color=PALETTE[1], alpha=0.15, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left")
    return fig


def profile_plot(profiles, title=None):
    """Profile (restricted) log-likelihood of each variance component (metafor's profile.rma.mv): one panel per
    component, the estimate marked; a flat profile says the data cannot tell the component apart."""
    n = len(profiles)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.8), squeeze=False)
    for ax, pr in zip(axes[0], profiles):
        ax.plot(pr["value"], pr["loglik"], color=PALETTE[0], lw=1.2, marker="o", ms=2.5)
        ax.axvline(pr.attrs.get("estimate", np.nan), color=PALETTE[1], ls="--", lw=0.8)
        ax.axhline(pr.attrs.get("loglik", np.nan), color="#999999", ls=":", lw=0.8)
        name = pr.attrs.get("component", "component")
        ax.set_xlabel(name if name.startswith(("tau2", "rho")) else f"σ² {name}")
        ylab = "Restricted log-likelihood" if pr.attrs.get("method") == "REML" else "Log-likelihood"
        ax.set_ylabel(ylab if ax is axes[0][0] else "")
    if title:
        fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout()
    return fig
