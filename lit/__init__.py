"""fmreview.lit: the search side of a systematic review — import of database exports, deduplication, screening
with active learning, and PRISMA counts derived from the decisions. Works on a review folder (see
:mod:`fmreview.lit.review`); imports nothing of fmreview but the catalog's writers."""

from .review import Decision, Group, Record, Review, ReviewError

__all__ = ["Decision", "Group", "Record", "Review", "ReviewError"]
