"""Load + validate and query time on a synthetic catalog of 2 000 models and 10 000 results.

Targets (2-core machine): load + validate <= 1 s cold (no parse cache), a filtered query <= 50 ms.
Usage: python benchmarks/bench_catalog.py [--models 2000] [--results 10000] [--repeat 3]
The synthetic entries are placeholders for timing only and never leave the temp directory.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from fmreview.catalog import load, vocab
from fmreview.catalog.yamlio import dumps


def synthesise(root: Path, n_models: int, n_results: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    mods, tasks = vocab.words("modality")[:10], ["classification", "segmentation", "vqa", "retrieval"]
    for kind in ("papers", "models", "datasets", "results"):
        (root / kind).mkdir(parents=True)
    n_papers, n_datasets = n_models // 2, 100
    for i in range(n_papers):
        (root / "papers" / f"p{i}.yaml").write_text(dumps({
            "id": f"p{i}", "title": f"Paper {i}", "authors": ["A. Author", "B. Author"], "year": 2018 + i % 8,
            "arxiv": f"23{i % 10:02d}.{10000 + i}", "url": f"https://arxiv.org/abs/23{i % 10:02d}.{10000 + i}",
            "kind": "method"}))
    for i in range(n_datasets):
        (root / "datasets" / f"d{i}.yaml").write_text(dumps({
            "id": f"d{i}", "name": f"Dataset {i}", "modalities": [rng.choice(mods)], "tasks": [rng.choice(tasks)],
            "dimensionality": "2d", "size": {"images": 1000 + i},
            "sources": [{"url": "https://example.org/d", "locator": "Table 1"}]}))
    for i in range(n_models):
        (root / "models" / f"m{i}.yaml").write_text(dumps({
            "id": f"m{i}", "name": f"Model {i}", "paper": f"p{i % n_papers}", "year": 2018 + i % 8,
            "family": rng.choice(vocab.words("family")), "band": rng.choice(vocab.words("band")),
            "model_group": "vision-fm", "architecture": "ViT-B/16", "parameters": "86M",
            "modalities": rng.sample(mods, 2), "anatomy": ["chest"], "tasks": rng.sample(tasks, 2),
            "pretraining": {"paradigm": ["contrastive"], "datasets": ["d1"], "images": "1M"},
            "checkpoints": [{"hub": "huggingface", "repo_id": f"org/m{i}", "format": "transformers"}],
            "sources": [{"url": "https://example.org/m", "locator": "README"}]}))
    per_file = 50
    for f in range(n_results // per_file):
        results = []
        for j in range(per_file):
            k = f * per_file + j
            results.append({
                "id": f"r{k}", "model": f"m{k % n_models}", "dataset": f"d{k % n_datasets}",
                "task": "segmentation", "metric": rng.choice(["dice", "auc", "accuracy"]),
                "value": round(rng.uniform(50, 99), 2), "unit": "percent", "setting": "zero-shot",
                "prompt": "box", "n": 100, "locator": "Table 2"})
        # 'self' exactly when the source paper is the own paper of a model in the file (catalog.checks)
        own = {f"p{(r['model'] and int(r['model'][1:])) % n_papers}" for r in results}
        by = "self" if f"p{f % n_papers}" in own else "third-party"
        (root / "results" / f"src{f}.yaml").write_text(dumps({
            "source": {"paper": f"p{f % n_papers}", "url": f"https://example.org/r{f}", "reported_by": by},
            "results": results}))


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, min(times), statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=2000)
    ap.add_argument("--results", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthesise(root, args.models, args.results)
        # cold: no parse cache (a fresh, empty cache directory each run; the run writes the cache, as a first
        # load does); warm: the cache written by the last cold run is hit for every file
        colds = []
        for i in range(args.repeat):
            os.environ["XDG_CACHE_HOME"] = str(root / f".cache{i}")
            cat, t, _ = timed(lambda: load(root), 1)
            colds.append(t)
        print(f"load + validate, cold (every file parsed): best {min(colds):.3f} s,"
              f" median {statistics.median(colds):.3f} s (target <= 1 s)")
        cat, best, med = timed(lambda: load(root), args.repeat)
        print(f"load + validate, warm (parse cache hit): {len(cat.raw.models)} models,"
              f" {sum(len(e.record.results) for e in cat.raw.result_files)} results: best {best:.3f} s,"
              f" median {med:.3f} s")
        _, best, med = timed(lambda: (cat.models, cat.results, cat.datasets), 1)
        print(f"build DataFrames (first access): {best * 1000:.1f} ms")
        q = lambda: cat.models_where(modality="CT", task="segmentation", since=2020)
        df, best, med = timed(q, max(args.repeat, 5))
        print(f"query models --modality CT --task segmentation --since 2020: {len(df)} rows, best {best * 1000:.1f} ms,"
              f" median {med * 1000:.1f} ms (target <= 50 ms)")
        q = lambda: cat.results_where(metric="dice", setting="zero-shot", modality="ct")
        df, best, med = timed(q, max(args.repeat, 5))
        print(f"query results --metric dice --setting zero-shot --modality ct: {len(df)} rows, best {best * 1000:.1f} ms,"
              f" median {med * 1000:.1f} ms")


if __name__ == "__main__":
    main()
