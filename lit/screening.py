"""Screening a review folder: which record comes next, the state shown beside it, checks on each decision,
reviewer agreement, and the local page that serves it all (``fmreview lit screen``).

The loop is a small interface over plain state, as in ASReview: every request re-reads ``decisions.jsonl``
(the one source of truth), retrains the model (:mod:`fmreview.lit.prioritise`) and picks the next record, and a
decision is appended and fsync'ed (:meth:`Review.decide`) before the response that carries the next record is
sent. A crash, a closed tab or a second reviewer's page therefore lose nothing but the record on screen.

Stages: ``screening`` (title/abstract) serves every record left after deduplication; ``eligibility`` (full
text) serves only those whose final screening decision is *include* (a *maybe* must be resolved to include or
exclude first, by a second look or by the reviewer ``consensus``).

Undo appends, never rewrites: ``u`` brings back the reviewer's previous record with the decision it got, and
the key pressed then appends a new decision, which supersedes the old one (the latest line per record, stage and
reviewer counts). Pressing ``u`` again goes one record further back.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import combinations
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from .prioritise import Prioritiser, stopping_aid, texts_of
from .review import CONSENSUS, STAGES, Decision, Review, ReviewError

HOST = "127.0.0.1"  # never another interface: the page has no authentication
TEMPLATES = Path(__file__).with_name("templates")


# ---- checks shared by the page and `fmreview lit decide`
def candidates(review: Review, stage: str) -> list[str]:
    """The records screened at ``stage``: after deduplication, and at eligibility only those included at
    screening (final decision)."""
    if stage not in STAGES:
        raise ReviewError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    ids = review.unique_ids()
    if stage == "eligibility":
        final = review.final("screening")
        ids = [i for i in ids if i in final and final[i].decision == "include"]
    return ids


def check_decision(review: Review, d: Decision) -> None:
    """Refuse a decision the flow could not count: on a record kept out by deduplication, or at eligibility on a
    record not included at screening (Review.decide checks ids, stages, decisions and full-text reasons)."""
    if d.id not in review.records:
        raise ReviewError(f"no record {d.id!r} in this review")
    dup = review.duplicate_of()
    if d.id in dup:
        raise ReviewError(f"record {d.id} is a duplicate of {dup[d.id]}; decide on {dup[d.id]}")
    if d.stage == "eligibility":
        f = review.final("screening").get(d.id)
        if f is None or f.decision != "include":
            got = "no final screening decision" if f is None else f"final screening decision {f.decision!r}"
            raise ReviewError(f"record {d.id} has {got}; only records included at screening reach eligibility")
    if not (d.reviewer or "").strip():
        raise ReviewError("a decision needs a reviewer name")


def record_decision(review: Review, d: Decision) -> Decision:
    """Check and append one decision (fsync'ed); the reviewer joins review.yaml's list on their first one."""
    check_decision(review, d)
    review.decide(d)
    reviewers = review.settings.setdefault("reviewers", [])
    if d.reviewer not in reviewers and d.reviewer != CONSENSUS:
        reviewers.append(d.reviewer)
        review.save_settings()
    return d


# ---- agreement between reviewers
def cohen_kappa(a, b) -> float | None:
    """Cohen's κ = (p_o − p_e) / (1 − p_e) of two raters' binary labels (Cohen 1960): p_o the observed agreement,
    p_e = Σ_c p_a(c) p_b(c) the agreement expected by chance. None when p_e = 1 (both raters used one and the
    same category throughout: κ is undefined)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if len(a) == 0:
        return None
    po = float(np.mean(a == b))
    pe = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return None if pe >= 1 - 1e-12 else (po - pe) / (1 - pe)


def agreement(review: Review, stage: str) -> dict:
    """Conflicts and Cohen's κ between each pair of reviewers at ``stage``.

    κ is computed on the records both reviewers decided, on include vs not-include, with *maybe* counted as
    include: at screening a maybe sends a record on to be looked at again, so it is a "keep" vote, and two
    reviewers who kept the same records agree on what leaves the review. The reviewer ``consensus`` records
    resolutions, not judgements, and is left out of κ. ``conflicts`` are the records whose reviewers disagree
    (include, exclude and maybe are three different answers there) and have no consensus decision yet.
    """
    latest = review.latest(stage)
    reviewers = sorted({r for by in latest.values() for r in by if r != CONSENSUS})
    pairs = []
    for ra, rb in combinations(reviewers, 2):
        both = [(by[ra].decision, by[rb].decision) for by in latest.values() if ra in by and rb in by]
        keep = lambda v: v != "exclude"  # noqa: E731
        k = cohen_kappa([keep(x) for x, _ in both], [keep(y) for _, y in both])
        pairs.append({"reviewers": [ra, rb], "records": len(both),
                      "agreement": round(float(np.mean([keep(x) == keep(y) for x, y in both])), 4) if both else None,
                      "kappa": None if k is None else round(k, 4)})
    conflicts = [{"id": rid, "title": review.records[rid].title if rid in review.records else None,
                  "decisions": by} for rid, by in sorted(review.conflicts(stage).items())]
    return {"stage": stage, "reviewers": reviewers, "conflicts": conflicts, "pairs": pairs}


# ---- the screening state of one reviewer
class Screening:
    """One reviewer's screening of one stage; every method reads the review folder afresh."""

    def __init__(self, review: Review, stage: str = "screening", reviewer: str = "reviewer", model: str = "nb",
                 seed: int = 0):
        self.review, self.stage, self.reviewer = review, stage, reviewer
        self.ids = candidates(review, stage)
        self.index = {rid: i for i, rid in enumerate(self.ids)}
        recs = [review.records[i] for i in self.ids]
        self.model = Prioritiser(texts_of([r.title for r in recs], [r.abstract for r in recs]), model=model,
                                 seed=seed)

    def _mine(self, reviewer: str) -> list[Decision]:
        """The reviewer's latest decision per record at this stage, in the order taken."""
        by = self.review.latest(self.stage)
        return sorted((d[reviewer] for rid, d in by.items() if reviewer in d and rid in self.index),
                      key=lambda d: d.time)

    def _training(self, reviewer: str):
        """Labels the model learns from: per record the final decision where there is one, else this reviewer's
        own; include → 1, exclude → 0; maybe teaches nothing (it is undecided)."""
        final = self.review.final(self.stage)
        latest = self.review.latest(self.stage)
        idx, y = [], []
        for rid, by in latest.items():
            if rid not in self.index:
                continue
            d = final.get(rid) or by.get(reviewer)
            if d is not None and d.decision in ("include", "exclude"):
                idx.append(self.index[rid])
                y.append(1 if d.decision == "include" else 0)
        return np.array(idx, dtype=np.int64), np.array(y, dtype=np.int64)

    def next(self, reviewer: str | None = None, back: int = 0) -> dict:
        """The next record for ``reviewer`` (highest P(relevant) among those they have not decided), or with
        ``back`` = k ≥ 1 the k-th most recent record they decided (undo), with the state beside it."""
        reviewer = reviewer or self.reviewer
        mine = self._mine(reviewer)
        state = self._state(reviewer, mine)
        if back > 0:
            if back > len(mine):
                return {"record": None, "previous": None, "back": 0, "state": state,
                        "message": "nothing earlier to undo"}
            d = mine[-back]
            return {"record": self._record(d.id), "previous": d.to_json(), "back": back, "state": state}
        rid = state.pop("_next")
        return {"record": None if rid is None else self._record(rid), "previous": None, "back": 0, "state": state}

    def state(self, reviewer: str | None = None) -> dict:
        reviewer = reviewer or self.reviewer
        s = self._state(reviewer, self._mine(reviewer))
        s.pop("_next")
        return s

    def _state(self, reviewer: str, mine: list[Decision]) -> dict:
        decided = np.zeros(len(self.ids), dtype=bool)
        decided[[self.index[d.id] for d in mine]] = True
        idx, y = self._training(reviewer)
        p = self.model.proba(idx, y)
        # this reviewer's queue: what they have not decided (another reviewer's decision does not take a record
        # out of it: dual screening), by P(relevant), ties and the cold start by the seeded order
        keys = (self.model.rank_of,) if p is None else (self.model.rank_of, -p)
        todo = [i for i in np.lexsort(keys) if not decided[i]]
        unscreened = ~decided
        unscreened[idx] = False
        aid = stopping_aid([1 if d.decision == "include" else 0 for d in mine], int(y.sum()),
                           None if p is None else p[unscreened])
        reasons = sorted({d.reason for d in self.review.decisions()
                          if d.stage == self.stage and d.decision == "exclude" and d.reason})
        return {"stage": self.stage, "reviewer": reviewer, "total": len(self.ids), "screened": len(mine),
                "remaining": len(self.ids) - len(mine),
                "counts": {k: sum(d.decision == k for d in mine) for k in ("include", "exclude", "maybe")},
                "model": self.model.model, "model_ready": p is not None, **aid, "reasons": reasons,
                "conflicts": len(self.review.conflicts(self.stage)), "_next": self.ids[todo[0]] if todo else None}

    def _record(self, rid: str) -> dict:
        r = self.review.records[rid]
        return {"id": r.id, "title": r.title, "authors": r.authors, "year": r.year, "abstract": r.abstract,
                "venue": r.venue, "doi": r.doi, "arxiv": r.arxiv, "pmid": r.pmid, "url": r.url}

    def decide(self, rid: str, decision: str, reviewer: str | None = None, reason: str | None = None,
               note: str | None = None) -> dict:
        """Append the decision (fsync'ed), then serve the next record."""
        reviewer = reviewer or self.reviewer
        if rid not in self.index:
            raise ReviewError(f"record {rid!r} is not screened at {self.stage}")
        record_decision(self.review, Decision(id=rid, stage=self.stage, decision=decision, reviewer=reviewer,
                                              reason=(reason or "").strip() or None,
                                              note=(note or "").strip() or None))
        return self.next(reviewer)


# ---- the page
def render_page(screening: Screening) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("screen.html").render(stage=screening.stage, reviewer=screening.reviewer,
                                                  title=screening.review.settings.get("title", ""))


def make_server(screening: Screening, port: int = 0) -> ThreadingHTTPServer:
    """A ThreadingHTTPServer on 127.0.0.1:port (0: a free port) serving the page and its JSON API:

    GET  /                 the page (``?reviewer=NAME`` screens under another name)
    GET  /api/next         ``?reviewer=NAME&back=K`` → {record, previous, back, state}
    GET  /api/state        ``?reviewer=NAME`` → progress, stopping aid, reasons used, conflicts
    POST /api/decide       {id, decision, reviewer, reason, note} → as /api/next, after the decision is on disk
    """
    lock = threading.Lock()  # one decision and one retraining at a time: the log is appended in order
    page = render_page(screening)

    class Handler(BaseHTTPRequestHandler):
        server_version = "fmreview-screen"

        def log_message(self, *args):  # quiet: the terminal shows the address, not every request
            pass

        def _send(self, status, body: bytes, ctype: str):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj, status=HTTPStatus.OK):
            self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json")

        def _query(self):
            q = parse_qs(urlparse(self.path).query)
            return {k: v[-1] for k, v in q.items()}

        def do_GET(self):
            path, q = urlparse(self.path).path, self._query()
            try:
                if path in ("/", "/index.html"):
                    return self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")
                if path == "/api/next":
                    with lock:
                        return self._json(screening.next(q.get("reviewer"), int(q.get("back", 0) or 0)))
                if path == "/api/state":
                    with lock:
                        return self._json(screening.state(q.get("reviewer")))
                return self._json({"error": f"no such page {path}"}, HTTPStatus.NOT_FOUND)
            except (ReviewError, ValueError) as e:
                return self._json({"error": str(e)}, HTTPStatus.BAD_REQUEST)

        def do_POST(self):
            if urlparse(self.path).path != "/api/decide":
                return self._json({"error": "no such endpoint"}, HTTPStatus.NOT_FOUND)
            # a JSON body only: a cross-site form cannot send one without a CORS preflight, which is never granted
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                return self._json({"error": "expected a JSON body"}, HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with lock:
                    out = screening.decide(str(body.get("id", "")), str(body.get("decision", "")),
                                           reviewer=body.get("reviewer"), reason=body.get("reason"),
                                           note=body.get("note"))
                return self._json(out)
            except (ReviewError, ValueError) as e:
                return self._json({"error": str(e)}, HTTPStatus.BAD_REQUEST)

    return ThreadingHTTPServer((HOST, port), Handler)
