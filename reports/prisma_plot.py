"""The PRISMA 2020 flow diagram as a matplotlib figure (used by the report and by ``fmreview lit prisma``)."""

from __future__ import annotations

import textwrap

from fmreview.analysis.prisma import Prisma

from .plotting import plt

WRAP = 40  # characters per line of a source's name: long list names must not run into the right-hand column
LINE_IN = 0.14  # inches per extra line of text in the identification box


def prisma_figure(pr: Prisma, assumed: bool = False, note: str | None = None):
    """The flow diagram of ``pr``. ``assumed`` writes the caveat of a flow derived from the catalog itself on the
    image (so the figure cannot travel without it); ``note`` is a line under the diagram saying where the
    counts come from."""
    ident_lines = []
    for k, v in pr.identified.items():
        ident_lines += textwrap.wrap(f"{k}: {v}", WRAP, subsequent_indent="  ") or [f"{k}: {v}"]
    extra = max(0, len(ident_lines) - 3)
    base_h = 5.2
    height = base_h + LINE_IN * extra
    fig, ax = plt.subplots(figsize=(7.0, height))
    # the axes keeps the base figure's height in inches; the identification box grows into the space above it
    fig.subplots_adjust(bottom=0.11 * base_h / height, top=1 - (0.11 * base_h + LINE_IN * extra) / height)
    ax.axis("off")
    ident = "\n".join(ident_lines)
    boxes = [
        (0.05, 0.78, f"Records identified (n = {sum(pr.identified.values())})\n{ident}"),
        (0.55, 0.78, f"Removed before screening:\nduplicates (n = {pr.duplicates_removed})\nother (n = {pr.other_removed})"),
        (0.05, 0.56, f"Records screened (n = {pr.screened})"),
        (0.55, 0.56, f"Records excluded (n = {pr.screened_excluded})"),
        (0.05, 0.38, f"Reports sought for retrieval (n = {pr.sought})"),
        (0.55, 0.38, f"Reports not retrieved (n = {pr.not_retrieved})"),
        (0.05, 0.20, f"Reports assessed for eligibility (n = {pr.assessed})"),
        (0.55, 0.20, "Reports excluded" + (":\n" + "\n".join(f"{k} (n = {v})" for k, v in pr.excluded_reasons.items())
                                           if pr.excluded_reasons else " (n = 0)")),
        (0.05, 0.02, f"Studies included in review (n = {pr.included})"),
    ]
    for x, y, text in boxes:
        ax.text(x, y, text, fontsize=8 if text is not boxes[0][2] or not extra else 7.5, va="bottom", ha="left",
                transform=ax.transAxes, bbox=dict(boxstyle="square,pad=0.5", fc="white", ec="#333333"))
    # arrows start below each box's padding (the text is anchored at its bottom, the frame reaches below it)
    for y0, y1 in ((0.765, 0.64), (0.545, 0.46), (0.365, 0.28), (0.185, 0.10)):
        ax.annotate("", xy=(0.2, y1), xytext=(0.2, y0), xycoords="axes fraction",
                    arrowprops=dict(arrowstyle="->", color="#333333"))
    fig.suptitle("PRISMA 2020 flow diagram", x=0.02, y=0.995, ha="left", va="top")
    below = -0.06
    if assumed:
        ax.text(0.0, below, "Assumed flow: derived from the catalog's own entries, not from a search or a screening "
                "log (no duplicates or exclusions recorded).", transform=ax.transAxes, fontsize=7.5,
                color="#b03a2e", ha="left", va="top", wrap=True)
        below -= 0.06
    if note:
        ax.text(0.0, below, note, transform=ax.transAxes, fontsize=7.5, color="#333333", ha="left", va="top",
                wrap=True)
    return fig
