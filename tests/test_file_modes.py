"""Every file the tool writes gets the mode a plain ``open(path, "w")`` would give it (0666 & ~umask), not the
0600 of the temporary file it is written through; and it is still written atomically (a temp file beside the
target, renamed over it, nothing left behind)."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from fmreview.catalog import yamlio
from fmreview.reports.cli import main

BCG = Path(__file__).parent / "data" / "metafor" / "bcg.csv"
UMASKS = [0o022, 0o077, 0o002]


@pytest.fixture(params=UMASKS, ids=lambda m: f"umask{m:03o}")
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def expected(mask: int) -> int:
    return 0o666 & ~mask


def no_temp_files(directory: Path) -> None:
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_umask_is_read_without_changing_it(umask):
    assert yamlio._umask() == umask
    assert os.umask(umask) == umask  # still what the fixture set


def test_table(umask, tmp_path, capsys):
    out = tmp_path / "tables" / "effects.csv"
    assert main(["effects", str(BCG), "--measure", "RR", "--ai", "tpos", "--bi", "tneg", "--ci", "cpos",
                 "--di", "cneg", "--out", str(out)]) == 0
    assert {"yi", "vi"} <= set(out.read_text().splitlines()[0].split(","))
    assert mode(out) == expected(umask)
    no_temp_files(out.parent)


def test_figures_svg_and_png(umask, tmp_path):
    forest = tmp_path / "forest"
    assert main(["meta", str(BCG), "--forest", str(forest), "--funnel", str(tmp_path / "funnel.svg")]) == 0
    written = [forest.with_suffix(".svg"), forest.with_suffix(".png"), tmp_path / "funnel.svg"]
    for p in written:
        assert p.stat().st_size > 0
        assert mode(p) == expected(umask), p
    assert forest.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    no_temp_files(tmp_path)


def test_plotting_save_directly(umask, tmp_path):
    import matplotlib.pyplot as plt

    from fmreview.reports.plotting import save

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = save(fig, tmp_path / "figures" / "line")
    assert [p.suffix for p in paths] == [".svg", ".png"]
    assert all(mode(p) == expected(umask) for p in paths)
    no_temp_files(tmp_path / "figures")


def test_catalog_file_rewrite(umask, mini_catalog, capsys):
    odd = mini_catalog / "papers" / "odd-2024.yaml"
    odd.write_text("year: 2024\ntitle: Keys out of order\nid: odd-2024\nurl: https://example.org/odd\n",
                   encoding="utf-8")
    # the file starts with the other extreme, so the test sees the rewrite set the mode, not keep it
    os.chmod(odd, 0o600 if umask == 0o022 else 0o644)
    assert main(["catalog", "fmt", "--catalog", str(mini_catalog)]) == 0
    assert "odd-2024.yaml" in capsys.readouterr().out
    assert odd.read_text(encoding="utf-8").startswith("id: odd-2024")
    assert mode(odd) == expected(umask)
    no_temp_files(odd.parent)


def test_zoo_record(umask, tmp_path):
    from fmreview.zoo.records import load_records, write_record

    rec = {"result": "r1", "model": "m", "dataset_fingerprint": "ab" * 32, "n": 3, "verdict": "reproduced"}
    path = write_record(rec, tmp_path / "records")
    assert json.loads(path.read_text())["verdict"] == "reproduced"
    assert mode(path) == expected(umask)
    assert list(load_records(tmp_path / "records")["result"]) == ["r1"]
    no_temp_files(path.parent)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "t.txt"
    yamlio.write_atomic(target, "old\n")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(yamlio.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        yamlio.write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    no_temp_files(tmp_path)


def test_the_data_are_synced_before_the_rename(tmp_path, monkeypatch):
    """fsync of the temp file happens before os.replace makes it visible (else a crash can leave an empty file)."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(yamlio.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(yamlio.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    yamlio.write_atomic(tmp_path / "x.txt", "x")
    assert events[:2] == ["fsync", "replace"]


def test_concurrent_writes_leave_a_whole_file(tmp_path):
    target = tmp_path / "shared.txt"
    texts = [f"{i}\n" * 2000 for i in range(8)]
    threads = [threading.Thread(target=yamlio.write_atomic, args=(target, t)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert target.read_text() in texts
    no_temp_files(tmp_path)
