"""CLI for screening: ``fmreview lit screen``, ``decide``, ``conflicts`` and ``simulate`` (thin: parse, call,
print; the work is in :mod:`fmreview.lit.screening` and :mod:`fmreview.lit.simulate`)."""

from __future__ import annotations

import json
import sys

from .cli import UserError
from .cli_lit import review_arg

STAGE_HELP = "screening (title/abstract, default) or eligibility (full text)"


def register(lsub) -> None:
    from fmreview.lit.prioritise import MODELS
    from fmreview.lit.review import DECISIONS, STAGES

    p = lsub.add_parser("screen", help="screen in the browser: a local page on 127.0.0.1, records in the order of "
                        "an active-learning model")
    review_arg(p)
    p.add_argument("--stage", choices=STAGES, default="screening", help=STAGE_HELP)
    p.add_argument("--reviewer", default="reviewer", metavar="NAME", help="whose decisions these are (the page "
                   "also takes ?reviewer=NAME)")
    p.add_argument("--port", type=int, default=8765, metavar="N", help="port on 127.0.0.1 (default 8765; 0: any "
                   "free port)")
    p.add_argument("--model", choices=MODELS, default="nb", help="naive Bayes (default) or logistic regression")
    p.add_argument("--seed", type=int, default=0, help="order of the records before the model can be trained")
    p.set_defaults(handler=cmd_screen)

    p = lsub.add_parser("decide", help="record one screening decision from a script")
    p.add_argument("id", metavar="ID", help="record id")
    review_arg(p)
    p.add_argument("--stage", choices=STAGES, required=True, help=STAGE_HELP)
    p.add_argument("--decision", choices=DECISIONS, required=True)
    p.add_argument("--reason", metavar="TEXT", help="exclusion reason (required to exclude at eligibility)")
    p.add_argument("--note", metavar="TEXT")
    p.add_argument("--reviewer", default="reviewer", metavar="NAME",
                   help="default 'reviewer'; 'consensus' resolves a conflict")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=cmd_decide)

    p = lsub.add_parser("conflicts", help="records where reviewers disagree, and Cohen's kappa between each pair")
    review_arg(p)
    p.add_argument("--stage", choices=STAGES, default="screening", help=STAGE_HELP)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=cmd_conflicts)

    p = lsub.add_parser("simulate", help="replay the prioritisation on a fully labelled review: recall curve, "
                        "WSS@95, ATD")
    p.add_argument("file", metavar="LABELLED_FILE", help="CSV/TSV with title, abstract, label_included "
                   "(SYNERGY/ASReview layout or the Cohen 2006 files)")
    p.add_argument("--model", choices=MODELS, default="nb")
    p.add_argument("--seed", type=int, default=0, help="draws the prior records and the cold-start order")
    p.add_argument("--prior-included", type=int, default=1, metavar="N", help="relevant prior records (default 1)")
    p.add_argument("--prior-excluded", type=int, default=1, metavar="N",
                   help="irrelevant prior records (default 1)")
    p.add_argument("--step", type=int, default=1, metavar="K", help="retrain after every K records (default 1)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--curve", metavar="PATH", help="recall curve figure (.svg/.png by extension; both without)")
    p.set_defaults(handler=cmd_simulate)


def cmd_screen(args) -> int:
    from fmreview.lit.review import Review
    from fmreview.lit.screening import Screening, make_server

    review = Review(args.review)
    screening = Screening(review, stage=args.stage, reviewer=args.reviewer, model=args.model, seed=args.seed)
    try:
        server = make_server(screening, args.port)
    except OSError as e:
        raise UserError(f"cannot listen on 127.0.0.1:{args.port} ({e.strerror}); pick another --port") from None
    host, port = server.server_address[:2]
    print(f"screening {len(screening.ids)} records ({args.stage}) as {args.reviewer} at http://{host}:{port}/ "
          "— Ctrl-C stops (every decision is already saved)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_decide(args) -> int:
    from fmreview.lit.review import Decision, Review
    from fmreview.lit.screening import record_decision

    review = Review(args.review)
    d = record_decision(review, Decision(id=args.id, stage=args.stage, decision=args.decision,
                                         reviewer=args.reviewer, reason=(args.reason or "").strip() or None,
                                         note=args.note))
    if args.format == "json":
        print(json.dumps(d.to_json(), ensure_ascii=False, sort_keys=True))
    else:
        why = f" ({d.reason})" if d.reason else ""
        print(f"{d.id}: {d.decision}{why} at {d.stage} by {d.reviewer}")
    return 0


def cmd_conflicts(args) -> int:
    from fmreview.lit.review import Review
    from fmreview.lit.screening import agreement

    a = agreement(Review(args.review), args.stage)
    if args.format == "json":
        print(json.dumps(a, ensure_ascii=False, indent=1, sort_keys=True))
        return 0
    out = [f"{len(a['conflicts'])} conflict(s) at {a['stage']}"
           + (" (resolve each with: fmreview lit decide ID --reviewer consensus …)" if a["conflicts"] else "")]
    for c in a["conflicts"]:
        votes = ", ".join(f"{r}: {v}" for r, v in c["decisions"].items())
        out.append(f"  {c['id']}  {votes}  — {(c['title'] or '')[:70]}")
    out.append("Cohen's kappa (include vs not; maybe counts as include):" if a["pairs"] else
               "Cohen's kappa: fewer than two reviewers")
    for pr in a["pairs"]:
        k = "undefined (one category only)" if pr["kappa"] is None else f"{pr['kappa']:.3f}"
        out.append(f"  {pr['reviewers'][0]} vs {pr['reviewers'][1]}: kappa {k} on {pr['records']} records")
    print("\n".join(out))
    return 0


def cmd_simulate(args) -> int:
    from fmreview.lit.simulate import simulate_file

    sim = simulate_file(args.file, model=args.model, seed=args.seed, prior_included=args.prior_included,
                        prior_excluded=args.prior_excluded, step=args.step)
    written = plot_recall_curve(sim, args.curve, title=str(args.file).rsplit("/", 1)[-1]) if args.curve else []
    if args.format == "json":
        print(json.dumps(sim.to_json(), sort_keys=True))
    else:
        print(sim.summary())
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def plot_recall_curve(sim, path, title: str = ""):
    """Recall against the proportion screened, with random screening's diagonal and the 95 % line."""
    from .plotting import PALETTE, plt, save_as

    m = sim.metrics
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="random screening")
    ax.step(m.recall_x, m.recall_y, where="post", color=PALETTE[0], lw=1.5,
            label=f"{sim.model} (WSS@95 {m.wss95:.3f}, ATD {m.atd:.3f})" if m.wss95 is not None else sim.model)
    ax.axhline(0.95, color=PALETTE[1], lw=0.8, ls=":")
    ax.set_xlabel("proportion of records screened")
    ax.set_ylabel("recall (relevant records found)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{title} — {m.records} records, {m.relevant} relevant" if title else "")
    ax.legend(loc="lower right", frameon=False)
    return save_as(fig, path)
