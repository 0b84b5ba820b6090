"""Speed of a large review: load 50,000 records (the issue asks ≤ 2 s) and deduplicate them.

    python benchmarks/bench_lit.py [--records 50000] [--seed 0]

Records are synthetic: titles drawn from a medical-imaging vocabulary, ~900-character abstracts, 3–8 authors,
and about 10 % duplicates of the kinds deduplication must find (DOI variants, preprint ↔ published, title typos).
Prints the time to write, load and deduplicate, and how many groups were found against how many were planted.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fmreview.lit.dedup import dedup
from fmreview.lit.review import Record, Review

WORDS = ("foundation model segmentation transformer self-supervised contrastive pretraining chest radiograph CT MRI "
         "ultrasound pathology whole-slide retinal fundus dermatology mammography promptable zero-shot few-shot "
         "vision-language report generation lesion tumour organ benchmark multimodal federated domain shift "
         "robustness calibration uncertainty 3D volumetric diffusion generative adapter fine-tuning universal "
         "cardiac brain lung liver prostate breast knee colonoscopy endoscopy dental ophthalmology").split()
SURNAMES = "Chen Wang Li Zhang Rivera Okafor Patel Müller Nakamura Haddad Gomez Nguyen Smith Kim Rossi".split()


def _ris(f: dict, doi) -> str:
    """The record as an RIS export would hold it: its raw text is about as long as its fields together."""
    lines = ["TY  - JOUR", f"TI  - {f['title']}"] + [f"AU  - {a}" for a in f["authors"]]
    lines += [f"PY  - {f['year']}", f"JO  - {f['venue']}", f"AB  - {f['abstract']}"]
    return "\n".join(lines + ([f"DO  - {doi}"] if doi else []) + ["ER  - "])


def synthetic(n: int, seed: int) -> tuple[list[Record], int]:
    rng = random.Random(seed)
    out, planted = [], 0
    while len(out) < n:
        k = len(out)
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + f" {k}"
        year = rng.randint(2018, 2026)
        authors = [f"{rng.choice(SURNAMES)}, {chr(65 + rng.randint(0, 25))}." for _ in range(rng.randint(3, 8))]
        abstract = " ".join(rng.choice(WORDS) for _ in range(120))
        doi = f"10.1000/bench.{k}"
        base = dict(title=title, year=year, authors=authors, abstract=abstract, venue="Synthetic Journal")
        out.append(Record(id=Record.make_id("bench", f"{k}"), source="bench", doi=doi, raw=_ris(base, doi),
                          file="bench.ris", line=k * 12 + 1, **base))
        roll = rng.random()
        if roll < 0.1 and len(out) < n:
            planted += 1
            kind = rng.randrange(3)
            extra = dict(base)
            if kind == 0:
                extra.update(doi="https://doi.org/" + doi.upper())
            elif kind == 1:
                extra.update(doi=None, arxiv=f"{2300 + k % 99:04d}.{k:05d}", year=year - 1)
            else:
                t = list(title)
                t[len(t) // 2] = "x"
                extra.update(doi=None, title="".join(t))
            out.append(Record(id=Record.make_id("bench2", f"{k}"), source="bench2", raw=_ris(extra, extra["doi"]),
                              file="bench2.ris", line=k * 12 + 1, **extra))
    return out, planted


def _load_in_fresh_process(root: Path) -> float:
    code = ("import sys, time; from fmreview.lit.review import Review; t = time.perf_counter(); "
            "n = len(Review(sys.argv[1]).records); print(time.perf_counter() - t, n)")
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    recs, planted = synthetic(a.records, a.seed)
    n = len(recs)
    with tempfile.TemporaryDirectory() as d:
        review = Review.create(Path(d) / "review")
        t = time.perf_counter()
        review.add_records(recs)
        write = time.perf_counter() - t
        size = (review.root / "records.jsonl").stat().st_size
        del recs[:]  # the generator's copies would make the garbage collector's passes longer than in real use
        # in a fresh process, as `fmreview lit …` loads a review; best of three (the machine is shared)
        load = min(_load_in_fresh_process(review.root) for _ in range(3))
        fresh = Review(review.root)
        t = time.perf_counter()
        res = dedup(fresh)
        took = time.perf_counter() - t
    print(f"records: {n} ({size / 1e6:.1f} MB records.jsonl)")
    print(f"write:   {write:.2f} s")
    print(f"load:    {load:.2f} s (Review(dir).records; limit 2 s)")
    print(f"dedup:   {took:.2f} s (load included): {len(res.groups)} groups, {planted} planted, "
          f"{res.unique} unique")
    return 0 if load <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
