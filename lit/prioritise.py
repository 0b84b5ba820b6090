"""Which record to screen next: the active-learning model shared by the live screening loop and by simulation.

The cycle is ASReview's (van de Schoot et al. 2021, *Nat Mach Intell* 3:125–133), with its ELAS u3 settings
(the ASReview LAB 1 model, re-tuned for ASReview 2):

* **features** — TF-IDF of title + abstract (scikit-learn ``TfidfVectorizer``, English stop words, unigrams),
  fitted once on every record of the pool (the unlabelled ones too: transductive, as ASReview does);
* **classifier** — multinomial naive Bayes with α = 3.822 (``nb``, ASReview's long-time default), or L2 logistic
  regression with C = 1 (``logistic``);
* **balance** — ASReview 2's *balanced sample weight*: relevant records weigh 1, irrelevant ones
  ``n₁ / (ratio · n₀)``, all weights rescaled to sum to n, so the relevant class carries ``ratio`` times the
  irrelevant class's total weight whatever the imbalance (ratio 1.2 for nb as in ELAS u3, 1.0 for logistic).
  ASReview 1's "double" balance (resampling) is not implemented: ASReview 2 deprecated it for this weighting;
* **query** — certainty ("max"): the unlabelled record with the highest predicted probability of relevance.

Before the labelled set holds at least one inclusion *and* one exclusion no classifier can be fitted; the order is
then a seeded random permutation of the pool (deterministic for a given seed). Ties in probability are broken by
the same permutation, so a seed changes nothing else.

The model is retrained from scratch on every call (naive Bayes on sparse TF-IDF fits in milliseconds), so the
live loop sees each decision as soon as it is taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

MODELS = ("nb", "logistic")
NB_ALPHA = 3.822  # ASReview ELAS u3 (ASReview 2 models.py)
BALANCE_RATIO = {"nb": 1.2, "logistic": 1.0}


def texts_of(titles, abstracts) -> list[str]:
    return [f"{t or ''} {a or ''}".strip() for t, a in zip(titles, abstracts)]


def vectorise(texts: list[str]) -> sparse.csr_matrix:
    """TF-IDF of the texts; an empty vocabulary (all texts blank or stop words) gives a zero matrix, on which the
    model falls back to the seeded order."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        return TfidfVectorizer(stop_words="english").fit_transform(texts).tocsr()
    except ValueError:  # empty vocabulary
        return sparse.csr_matrix((len(texts), 1))


def balanced_weights(y: np.ndarray, ratio: float) -> np.ndarray:
    """ASReview 2's ``Balanced`` sample weights: w₁ = 1, w₀ = n₁ / (ratio · n₀), rescaled so that Σw = n."""
    y = np.asarray(y)
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    w = np.where(y == 1, 1.0, n1 / (ratio * n0))
    return w * (len(y) / w.sum())


@dataclass
class Ranking:
    """The pool's unlabelled records, best first, with each one's predicted probability of relevance (None while
    the model cannot be fitted yet)."""

    order: np.ndarray  # indices into the pool, best first
    proba: np.ndarray | None  # probability of relevance of every pool record (labelled ones included)

    @property
    def model_ready(self) -> bool:
        return self.proba is not None


class Prioritiser:
    """The active-learning model on a fixed pool of records (rows of a TF-IDF matrix)."""

    def __init__(self, texts: list[str], model: str = "nb", seed: int = 0):
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
        self.model, self.seed = model, seed
        self.X = vectorise(texts)
        self.n = len(texts)
        # position of each record in the seeded permutation: the order before the model can be fitted, and the
        # tie-breaker after
        perm = np.random.default_rng(seed).permutation(self.n)
        self.rank_of = np.empty(self.n, dtype=np.int64)
        self.rank_of[perm] = np.arange(self.n)

    def _classifier(self):
        if self.model == "nb":
            from sklearn.naive_bayes import MultinomialNB

            return MultinomialNB(alpha=NB_ALPHA)
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=1000)

    def proba(self, labelled: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """P(relevant) for every record of the pool from a model fitted on ``labelled`` (indices) with labels
        ``y`` (1 relevant, 0 irrelevant); None while y lacks one of the two classes."""
        y = np.asarray(y, dtype=np.int64)
        if len(y) == 0 or y.min() == y.max():
            return None
        clf = self._classifier()
        clf.fit(self.X[labelled], y, sample_weight=balanced_weights(y, BALANCE_RATIO[self.model]))
        return clf.predict_proba(self.X)[:, list(clf.classes_).index(1)]

    def rank(self, labelled, y) -> Ranking:
        """The unlabelled records ordered for screening: by P(relevant) descending (ties: seeded order), or by the
        seeded order alone while the model cannot be fitted."""
        labelled = np.asarray(labelled, dtype=np.int64)
        p = self.proba(labelled, y)
        mask = np.ones(self.n, dtype=bool)
        mask[labelled] = False
        pool = np.flatnonzero(mask)
        if p is None:
            order = pool[np.argsort(self.rank_of[pool], kind="stable")]
        else:
            order = pool[np.lexsort((self.rank_of[pool], -p[pool]))]
        return Ranking(order=order, proba=p)


def stopping_aid(decisions_in_order: list[int], found: int, proba_unscreened) -> dict:
    """Guidance on when to stop screening.

    ``since_last_inclusion`` — records screened since the last inclusion (the heuristic of stopping after a run of
    exclusions, e.g. 50 or 5 % of the pool in a row; Boetje & van de Schoot 2024, the SAFE procedure).

    ``expected_remaining`` = Σ over unscreened records of the model's P(relevant), and
    ``estimated_recall`` = found / (found + expected_remaining).

    Assumptions: the probabilities are calibrated and the labelled records are representative of the relevance
    of the rest. Neither holds exactly — certainty-based querying labels the most probable records first, and the
    balanced weights lift every probability toward the relevant class — so on imbalanced pools the expected
    remaining count tends to be too high and the recall estimate conservative (too low). It is an aid beside the
    run of exclusions, not a guarantee; None until the model can be fitted.

    ``decisions_in_order`` holds 1 (include) / 0 (anything else) in the order the records were screened.
    """
    since = 0
    for v in reversed(decisions_in_order):
        if v == 1:
            break
        since += 1
    if proba_unscreened is None:
        return {"since_last_inclusion": since, "found": found, "expected_remaining": None, "estimated_recall": None}
    expected = float(np.sum(proba_unscreened))
    recall = found / (found + expected) if found + expected > 0 else None
    return {"since_last_inclusion": since, "found": found, "expected_remaining": round(expected, 3),
            "estimated_recall": None if recall is None else round(recall, 4)}
