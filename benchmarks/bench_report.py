"""Time to build the whole review report from the shipped catalog (target <= 20 s on 2 cores)."""

import tempfile
import time

from fmreview.reports.report import build_report

with tempfile.TemporaryDirectory() as tmp:
    t = time.perf_counter()
    build_report(tmp, quiet=True)
    print(f"fmreview report (shipped catalog): {time.perf_counter() - t:.1f} s (target <= 20 s)")
