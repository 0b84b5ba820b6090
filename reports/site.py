"""The catalog as a static site: ``build_site(out, catalog=None, records=None, review=None, force=False)``.

Pages (home, search, list pages, one page per model, dataset and paper) come from the Jinja2 templates in
``templates/site`` (autoescaped), with a local stylesheet, script and search index: nothing is fetched from
another host, and every page works from file:// (the index is a script that sets a global, because browsers
block fetch() of file:// URLs).

The same catalog gives the same bytes: every listing is sorted, no page carries a date, figures use the
report's fixed SVG hash salt.

Safety of the output folder: the build renders everything in memory, writes it into a temporary folder beside
the target and only then moves it into place, so a failed build (an invalid catalog, a bug) leaves the old
site as it was. The folder's manifest ``.fmreview-site`` lists what the last build wrote; a rebuild deletes only
those files. A folder holding anything else is refused unless ``force``, and even then nothing it did not
write is deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import jinja2

from fmreview.catalog import load, vocab

from . import site_data as sd
from .cli import UserError

MANIFEST = ".fmreview-site"
HERE = Path(__file__).parent
TEMPLATES = HERE / "templates" / "site"
STATIC = HERE / "static"
STATIC_FILES = ("site.css", "site.js")


@dataclass
class SiteBuild:
    """What a build wrote: the folder, the files (relative paths, sorted) and how long it took."""

    out: Path
    files: list[str]
    seconds: float

    @property
    def pages(self) -> int:
        return sum(1 for f in self.files if f.endswith(".html"))


# ------------------------------------------------------------------------------------------ output folder


def read_manifest(out: Path) -> list[str]:
    """The files the last build wrote into ``out`` (relative POSIX paths); [] when there is no manifest.

    Entries that would point outside the folder (absolute, '..') are ignored: a hand-edited manifest must not
    make a rebuild delete anything elsewhere."""
    p = out / MANIFEST
    if not p.is_file():
        return []
    keep = []
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pp = PurePosixPath(line)
        if pp.is_absolute() or ".." in pp.parts or line == MANIFEST:
            continue
        keep.append(line)
    return keep


def foreign_files(out: Path) -> list[str]:
    """Files (and links) in ``out`` that no fmreview build wrote there: not in the manifest."""
    if not out.exists():
        return []
    if not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    ours = set(read_manifest(out)) | {MANIFEST}
    found = []
    for dirpath, dirnames, filenames in os.walk(out, followlinks=False):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(out)
        # a symlinked folder is not walked into (followlinks=False) but is something we did not write
        names = sorted(filenames) + sorted(d for d in dirnames if (Path(dirpath) / d).is_symlink())
        for name in names:
            rel = (rel_dir / name).as_posix()
            if rel not in ours:
                found.append(rel)
    return sorted(found)


def _install(files: dict[str, bytes], out: Path) -> None:
    """Write ``files`` into a temporary folder beside ``out``, then move them into place; delete only the
    files the previous manifest lists that this build no longer writes."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        manifest = "# written by fmreview site: a rebuild deletes only these files\n" + "".join(
            f"{rel}\n" for rel in sorted(files))
        for rel, data in {**files, MANIFEST: manifest.encode("utf-8")}.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if not out.exists():
            os.rename(tmp, out)  # the whole site appears at once
            return
        old = read_manifest(out)
        for rel in sorted(files):
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir() and not target.is_symlink():
                raise UserError(f"{target} is a folder where the site writes a file; move it away")
            os.replace(tmp / rel, target)
        for rel in sorted(set(old) - set(files)):
            target = out / rel
            if target.is_file() or target.is_symlink():
                target.unlink()
            # folders the old build made that are now empty go too; a folder holding anything stays
            parent = target.parent
            while parent != out and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        os.replace(tmp / MANIFEST, out / MANIFEST)  # last: the manifest names exactly what is there now
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# -------------------------------------------------------------------------------------------------- pages


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.globals.update(page_url=sd.page_url, label=vocab.label, slug=sd.slug)
    return env


def _figures(cat) -> list[dict]:
    """The report's trend figures for the home page, as deterministic SVG with alt text."""
    from fmreview.analysis.trends import counts_by_year

    from .plotting import figure_bytes, plt
    from .report import _stacked

    m, p = cat.models, cat.papers
    out = []
    specs = [("models-by-family", counts_by_year(m.year, m.family), "family", "Models per year by family", "Models"),
             ("models-by-band", counts_by_year(m.year, m.band), "band", "Models per year by spectrum band", "Models"),
             ("papers-by-kind", counts_by_year(p.year, p.kind), "paper_kind", "Papers per year by kind", "Papers")]
    for name, table, vocabulary, title, ylabel in specs:
        if not len(table):
            continue
        table = table[[c for c in vocab.words(vocabulary) if c in table.columns]]
        fig = _stacked(table, title, ylabel, vocabulary)
        svg = figure_bytes(fig)
        plt.close(fig)
        years = [int(y) for y in table.index]
        totals = table.sum(axis=0)
        parts = ", ".join(f"{vocab.label(vocabulary, c)} {int(totals[c])}" for c in table.columns if totals[c])
        alt = (f"Stacked bar chart: {title.lower()}, {years[0]}–{years[-1]}; {int(totals.sum())} in all ({parts}); "
               f"the most in one year: {int(table.sum(axis=1).max())} in {years[int(table.sum(axis=1).argmax())]}.")
        out.append({"file": f"figures/{name}.svg", "title": title, "alt": alt, "svg": svg})
    return out


def _review_counts(review) -> dict | None:
    if review is None:
        return None
    from fmreview.lit.prisma import flow
    from fmreview.lit.review import Review

    return flow(Review(review)).to_json()


def render_site(cat, records=None, review_counts: dict | None = None, base_url: str | None = None,
                figures: bool = True) -> dict[str, bytes]:
    """Every file of the site (relative path -> bytes), rendered from a loaded catalog."""
    env = _env()
    files: dict[str, bytes] = {}

    def render(template: str, rel: str, **ctx) -> None:
        root = "../" * rel.count("/")
        files[rel] = env.get_template(template).render(root=root, here=rel, **ctx).encode("utf-8")

    recs = sd.record_map(records)
    res = cat.results.sort_values(["dataset", "metric", "setting", "id"], kind="stable")
    by_model: dict[str, list] = {}
    for r in res.itertuples(index=False):
        by_model.setdefault(r.model, []).append(r)
    by_dataset = {k: g for k, g in res.groupby("dataset", sort=True)}
    by_paper = {k: g for k, g in res.groupby("source_paper", sort=True)}
    derived: dict[str, list[str]] = {}
    introduced: dict[str, list[str]] = {}
    for id_ in sorted(cat.raw.models):
        m = cat.raw.models[id_].record
        if m.base_model:
            derived.setdefault(m.base_model, []).append(id_)
        if m.paper:
            introduced.setdefault(m.paper, []).append(id_)
    networks = sd.network_summaries(cat.results)
    for tables in networks.values():  # each table's forest plot, written once, shown on each of its datasets
        for t in tables:
            files[t["forest"]["file"]] = t["forest"]["svg"]

    counts = {"models": len(cat.raw.models), "datasets": len(cat.raw.datasets), "papers": len(cat.raw.papers),
              "results": len(cat.results),
              "checkpoints": sum(len(e.record.checkpoints) for e in cat.raw.models.values())}
    figs = _figures(cat) if figures else []
    for f in figs:
        files[f["file"]] = f["svg"]
    opts = sd.filter_options(cat)
    render("home.html", "index.html", counts=counts, emap=sd.evidence_map(cat), newest=sd.newest_models(cat),
           figures=figs, review=review_counts, title="fmreview catalog")
    render("search.html", "search.html", title="Search")
    render("models.html", "models.html", rows=sd.model_rows(cat), opts=opts, title="Models")
    render("datasets.html", "datasets.html", rows=sd.dataset_rows(cat), opts=opts, title="Datasets")
    render("papers.html", "papers.html", rows=sd.paper_rows(cat), opts=opts, title="Papers")
    for id_ in sorted(cat.raw.models):
        page = sd.model_page(cat, id_, by_model, derived, recs)
        render("model.html", sd.page_path("model", id_), title=page["m"].name, **page)
    for id_ in sorted(cat.raw.datasets):
        page = sd.dataset_page(cat, id_, by_dataset, recs, networks)
        render("dataset.html", sd.page_path("dataset", id_), title=page["d"].name, **page)
    for id_ in sorted(cat.raw.papers):
        page = sd.paper_page(cat, id_, introduced, by_paper)
        render("paper.html", sd.page_path("paper", id_), title=page["p"].title, **page)

    index = json.dumps(sd.search_index(cat), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    files["search-index.json"] = (index + "\n").encode("utf-8")
    # the same index as a script: pages opened from file:// cannot fetch() a JSON file, but can load a script
    files["search-index.js"] = f"window.FMREVIEW_INDEX={index};\n".encode("utf-8")
    for name in STATIC_FILES:
        files[f"static/{name}"] = (STATIC / name).read_bytes()
    pages = sorted(f for f in files if f.endswith(".html"))
    files["sitemap.xml"] = env.get_template("sitemap.xml").render(
        urls=[(base_url.rstrip("/") + "/" if base_url else "") + sd.quote(p, safe="/-_.~") for p in pages]
    ).encode("utf-8")
    return dict(sorted(files.items()))


def build_site(out, catalog=None, records=None, review=None, force: bool = False, base_url: str | None = None,
               quiet: bool = True) -> SiteBuild:
    """Build the static site of ``catalog`` (default: $FMREVIEW_CATALOG or the shipped one) into ``out``.

    ``records``: a folder of zoo verification records (reported vs reproduced on model pages); ``review``: a
    literature review folder (its PRISMA counts on the home page); ``base_url``: where the site will be hosted
    (absolute URLs in sitemap.xml; relative ones otherwise). Raises CatalogError (nothing written) for a catalog
    that does not validate and UserError for an output folder holding files no build wrote, unless ``force``."""
    t0 = time.perf_counter()
    out = Path(out)
    cat = load(catalog)  # raises CatalogError with every problem before anything is written
    foreign = foreign_files(out)
    if foreign and not force:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise UserError(f"{out} holds files fmreview site did not write ({shown}); choose an empty or new folder, "
                        "or pass --force to write beside them (they are never deleted)")
    recs = None
    if records is not None:
        from fmreview.zoo.records import load_records

        if not Path(records).is_dir():
            raise UserError(f"--records {records}: not a folder")
        recs = load_records(records)
    counts = _review_counts(review)
    files = render_site(cat, recs, counts, base_url)
    _install(files, out)
    if not quiet:
        print(f"site: {len(files)} files in {time.perf_counter() - t0:.1f} s")
    return SiteBuild(out, sorted(files), time.perf_counter() - t0)
