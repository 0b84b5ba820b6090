"""The static site from the shipped catalog: build time (target <= 30 s on 2 cores) and the browser's search
latency, worst of 8 queries (target <= 50 ms), in Debian's chromium driven by Playwright.

Usage: python benchmarks/bench_site.py [--out DIR]"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from fmreview.reports.site import build_site

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
QUERIES = ["s", "sam", "medsam", "ct segmentation", "pathology vit", "cc-by", "dice zero-shot", "zzzz"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", metavar="DIR")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp) / "site"
        b = build_site(out)
        print(f"fmreview site (shipped catalog): {len(b.files)} files in {b.seconds:.1f} s (target <= 30 s)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto((out / "search.html").resolve().as_uri())
            times = page.evaluate("""(qs) => qs.map(q => {
                const t0 = performance.now(); window.fmreviewSearch(q); return performance.now() - t0; })""",
                                  QUERIES)
            browser.close()
        size = (out / "search-index.json").stat().st_size / 1e6
        print(f"search latency in the browser, worst of {len(QUERIES)} queries: {max(times):.1f} ms "
              f"(target <= 50 ms; index {size:.2f} MB)")


if __name__ == "__main__":
    main()
