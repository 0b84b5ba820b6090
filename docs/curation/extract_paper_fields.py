"""Fill the `extraction:` block of catalog/data/papers/*.yaml from pinned sources (issue 13, part 4).

Run from the repository root with the four lists fetched as bare git mirrors under /work/.mirror (fmreview's
search tools' `fetch`): it reads each README with `git show <commit>:README.md`, so every locator names a line
of the text at that commit. Sources, in order of precedence for each field:

1. the catalog's own model entries of the paper (``models/*.yaml`` with ``paper: ID``): modalities, tasks,
   family, band, model group, adaptation and pretraining datasets, cited at the model's own sources (its README,
   model card or paper page) as the entry records them; fields the model entry lists in ``inferred`` stay inferred;
2. the paper's own abstract, where a stored copy was read (docs/curation/paper_abstracts.yaml: URL, locator,
   the words read, the fields, and which were inferred); then the catalog's result files read from the paper (``source.paper: ID``): the datasets and tasks of its results,
   cited at the file's source URL and its results' locators;
3. a list that classifies the paper, matched by arXiv id or normalised title: the section heading of its row
   (PLM2233 per-modality tables, richard-peng-xia task sections, xmindflow model-type sections, SAM4MIS "... for
   Medical Image Segmentation"). A heading that is a vocabulary word or alias is read; a heading that has to be
   mapped onto a word (xmindflow's "Textual Prompted Models", PLM2233's "Dermatology Models") is listed in
   `inferred`;
4. the modalities of the catalog datasets it uses, where nothing above gives a modality (inferred; the evidence
   is where each dataset entry read them, of kind list, since it is not the paper itself);
5. the title (as the list row or the paper's page prints it): modality, adaptation, family, model group and band
   named by a keyword ("CT", "Adapter", "LoRA", "SAM", "polyp"): always `inferred`.

A field no source gives is left out. Existing extraction blocks written by hand (their note does not start with
``Scripted``) are kept as they are. Writes each file atomically in canonical key order.
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

import yaml

from fmreview.catalog import schema, yamlio

ROOT = Path("catalog/data")
MIRROR = Path("/work/.mirror")
LISTS = {
    "sam4mis": ("YichiZhang98/SAM4MIS", "745e76e429402ea2508d0510b6bf39926538751e"),
    "xmindflow": ("xmindflow/Awesome-Foundation-Models-in-Medical-Imaging", "7529e838c1ea7f5cb66606cb531de6296f52aade"),
    "plm2233": ("PLM2233/Awesome-Medical-Foundation-Models", "e01be5d7a1504428a4691e0f6b1ecf1d29053474"),
    "xia": ("richard-peng-xia/awesome-multimodal-in-medical-imaging", "d5a657d7e1cce907921d8a37dbd8434a60128e9c"),
}
SCRIPTED = "Scripted"
# READMEs of lists that classify papers (not a paper's own page, README or card)
LIST_URL = re.compile(r"github\.com/(YichiZhang98/SAM4MIS|[^/]+/[^/]*awesome[^/]*)(/|$)", re.I)


def list_url(key: str) -> str:
    repo, sha = LISTS[key]
    return f"https://github.com/{repo}/blob/{sha}/README.md"


def readme(key: str) -> str:
    repo, sha = LISTS[key]
    git = MIRROR / repo.replace("/", "+") / "repo"
    return subprocess.run(["git", f"--git-dir={git}", "show", f"{sha}:README.md"], capture_output=True, text=True,
                          check=True).stdout


def norm(t: str) -> str:
    t = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", t).strip()


ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf|html)/(\d{4}\.\d{4,5})", re.I)


def list_rows(key: str) -> list[dict]:
    """Rows of a list: line, section path (headings below the title), title, arXiv id where the row links one."""
    out, heads = [], {}
    for i, line in enumerate(readme(key).splitlines(), 1):
        m = re.match(r"^(#+)\s*(.*?)\s*(<div.*)?$", line)
        if m:
            level = len(m.group(1))
            heads = {k: v for k, v in heads.items() if k < level}
            heads[level] = re.sub(r"!\[\]\([^)]*\)", "", m.group(2)).strip()
            continue
        section = " / ".join(heads[k] for k in sorted(heads) if k > 1)
        ax = ARXIV.search(line)
        row = None
        if key in ("sam4mis", "plm2233") and line.startswith("|") and not re.match(r"^\|\s*:?-", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if key == "sam4mis" and len(cells) >= 3 and cells[0] != "Date":
                row = dict(title=re.sub(r"\[\(paper\)\]\([^)]*\)", "", cells[2]).strip(), date=cells[0])
            elif key == "plm2233" and len(cells) >= 3 and cells[0] != "Year":
                title = cells[1].replace("**", "").strip()
                row = dict(title=title, alt=title.split(":", 1)[1].strip() if ":" in title else None)
        elif key == "xmindflow" and line.startswith("**") and line.rstrip().endswith("<br>"):
            row = dict(title=re.sub(r"<br>\s*$", "", line.strip()).replace("**", "").replace("🔥", "").strip())
        elif key == "xmindflow" and out and ax and out[-1]["arxiv"] is None and i - out[-1]["line"] < 5:
            out[-1]["arxiv"] = ax.group(1)
        elif key == "xia":
            mm = re.match(r"^\s*[-*] \[\*\*([^\]]*)\*\*\]\s*(.+?)\s*\[\[", line)
            if mm:
                row = dict(title=mm.group(2).replace("**", "").strip(), venue=mm.group(1))
        if row:
            row.update(line=i, section=section, arxiv=ax.group(1) if ax else None, key=key)
            out.append(row)
    return out


# ----------------------------------------------------------------------------------------- list headings

def heading_fields(row: dict) -> tuple[dict, set, str]:
    """(fields, inferred names, heading) a list's section heading gives its row."""
    key, sec = row["key"], row["section"]
    f, inf = {}, set()
    if key == "sam4mis" and sec.endswith("for Medical Image Segmentation."):
        f["tasks"] = ["segmentation"]
    elif key == "plm2233":
        name = sec.split(" / ")[-1]
        direct = {"MRI Models": "mri", "CT Models": "ct", "Ultrasound Models": "ultrasound", "Fundus Models": "fundus",
                  "Histopathology Models": "pathology", "X-ray Models": "x-ray", "Microscopy Models": "microscopy",
                  "Endoscopy Models": "endoscopy"}
        if name in direct:
            # the list is "organized by imaging modality": a row under one modality is a model of that modality
            f["modalities"], f["band"] = [direct[name]], "modality-specific"
            inf.add("band")
        elif name == "Dermatology Models":
            f["modalities"], f["band"] = ["dermoscopy"], "modality-specific"
            inf.update({"modalities", "band"})  # "dermatology" covers clinical photographs too
        elif name == "Generalist Medical Models":
            f["band"] = "general"
        elif name == "Medical MLLM Models":
            f["family"], f["model_group"] = "multimodal-llm", "multimodal-fm"
            inf.add("model_group")
    elif key == "xia":
        top = sec.split(" / ")[0]
        if top.startswith("Medical Report Generation"):
            f["tasks"] = ["report-generation"]
        elif top.startswith("Medical Visual Question Answering"):
            f["tasks"] = ["vqa"]
        elif top.startswith("Medical Vision-Language Model"):
            f["family"] = "vision-language"
    elif key == "xmindflow":
        if sec.startswith("Papers / Textual Prompted Models / Contrastive"):
            f["family"] = "vision-language"
            inf.add("family")
        elif sec.startswith("Papers / Textual Prompted Models / Conversational"):
            f["family"] = "multimodal-llm"
            inf.add("family")
        elif sec.startswith("Papers / Visual Prompted Models"):
            f["family"] = "vision-only"
            inf.add("family")
            if sec.endswith("Generalist"):
                f["band"] = "general"
    return f, inf, sec


# ----------------------------------------------------------------------------------------- title keywords

def _kw(*pairs):
    return [(re.compile(p, re.I), w) for p, w in pairs]


TITLE_MODALITY = _kw(
    (r"\bCBCT\b|cone[- ]beam", "cbct"), (r"\bCT\b|computed tomography|\bCTA\b", "ct"),
    (r"\bMRI?s?\b|magnetic resonance|\bMR images?", "mri"), (r"x-?ray|radiograph|\bCXR\b", "x-ray"),
    (r"mammogra", "mammography"), (r"\bPET\b", "pet"), (r"ultrasound|sonograph|echocardiogra|\bUS images?\b", "ultrasound"),
    (r"patholog|histolog|whole[- ]slide|\bWSIs?\b", "pathology"), (r"cytolog", "cytology"), (r"microscop", "microscopy"),
    (r"fundus", "fundus"), (r"\bOCTA?\b|optical coherence", "oct"), (r"dermoscop|skin lesion", "dermoscopy"),
    (r"endoscop|colonoscop|laparoscop|polyp", "endoscopy"), (r"surgical video|surgical scene", "surgical-video"),
)
TITLE_TASK = _kw(
    (r"segment", "segmentation"), (r"classif|diagnos", "classification"), (r"detect|locali[sz]", "detection"),
    (r"registration", "registration"), (r"report generation", "report-generation"), (r"question answering|\bVQA\b", "vqa"),
    (r"tracking", "tracking"), (r"depth estimation", "depth-estimation"), (r"retrieval", "retrieval"),
    (r"grounding", "grounding"), (r"reconstruct|denois|super-resolution", "reconstruction"),
    (r"synthes|generat(e|ion|ive) (of )?(medical )?images?", "image-generation"),
)
TITLE_ADAPTATION = _kw(
    (r"adapter|adaptor", "adapter"), (r"\bLoRA\b|low-rank", "lora"), (r"prompt[- ](tuning|learning)", "prompt-tuning"),
    (r"distill", "distillation"), (r"federated", "federated"), (r"in-context", "prompting"),
)
# "zero-shot" names no adaptation (none) only in a title that evaluates a model as it is; a method's title may
# claim zero-shot ability for a model it trains (TongueSAM "... with Zero-Shot")
ZERO_SHOT_STUDY = re.compile(r"zero-shot.*\b(evaluat\w*|assess\w*|stud(y|ies)|compar\w*|benchmark\w*|explor\w*|"
                             r"capabilit\w*|analysis|performance)\b|\b(evaluat\w*|assess\w*|compar\w*|explor\w*|"
                             r"benchmark\w*|stud(y|ies))\b.*zero-shot", re.I)
SAM = re.compile(r"\bSAM\d?\b|segment[- ]anything|\bMedSAM\w*|\w+SAM\b|\bSAM-\w+", re.I)
LANGUAGE = re.compile(r"CLIP\b|language|\btext|\bVLMs?\b|\bLLMs?\b|\bGPT|caption|\breport", re.I)
# image and text together: CLIP and its medical kin (MedCLIP, BiomedCLIP), text-driven or text-prompted models
VL = re.compile(r"CLIP\b|vision[- ]language|language[- ]image|image[- ]text|text[- ](driven|guided|prompt\w*)", re.I)
LLM = re.compile(r"\bLLMs?\b|large language|\bGPT|\bMLLMs?\b|\bLVLMs?\b|multimodal large", re.I)
# a structure, organ, lesion or single clinical task named in the title: the model is organ/task-specific
ORGAN = re.compile(
    r"brain|tumou?r|glioma|liver|hepat|kidney|renal|lung|pulmonary|nodule|heart|cardiac|ventric|prostate|breast|"
    r"polyp|thyroid|pancrea|spleen|skin lesion|retina|vessel|vascular|dental|tooth|teeth|bone|spine|vertebra|knee|"
    r"\bcells?\b|nucle|gland|stomach|gastric|colon|colorectal|esophag|lesion|instrument|optic disc|cervi|ovar|"
    r"placenta|fetal|foetal|muscul|aort|airway|hemorrhage|haemorrhage|stroke|cyst|organ|teeth|bladder|hip\b|"
    r"prostat|uter|ear\b|eye|infarct|lymph|mitochondria|neuron|embryo|femur|rib\b", re.I)
GENERAL = re.compile(r"universal|generalist|versatile|any modality|all modalities|multi-modality|cross-modality", re.I)


def title_fields(title: str, has_tasks: bool) -> dict:
    """Fields a title names by keyword (every one is inferred). Returns {field: (value, matched phrase)}."""
    f = {}
    mods, words = [], []
    for rx, w in TITLE_MODALITY:
        m = rx.search(title)
        if m and w not in mods:
            mods.append(w)
            words.append(m.group(0))
    if "cbct" in mods and "ct" in mods and not re.search(r"\bCT\b(?![- ]?beam)", title.replace("CBCT", "")):
        mods.remove("ct")
    if mods:
        f["modalities"] = (mods, ", ".join(words))
    if not has_tasks:
        tasks, words = [], []
        for rx, w in TITLE_TASK:
            m = rx.search(title)
            if m and w not in tasks:
                tasks.append(w)
                words.append(m.group(0))
        if tasks:
            f["tasks"] = (tasks, ", ".join(words))
    ads, words = [], []
    for rx, w in TITLE_ADAPTATION:
        m = rx.search(title)
        if m and w not in ads:
            ads.append(w)
            words.append(m.group(0))
    m = ZERO_SHOT_STUDY.search(title)
    if m and not ads:
        ads, words = ["none"], [m.group(0)]
    if ads:
        f["adaptation"] = (ads, ", ".join(words))
    sam = SAM.search(title)
    llm, lang = LLM.search(title), LANGUAGE.search(title)
    if llm:
        f["family"] = ("multimodal-llm", llm.group(0))
        f["model_group"] = ("multimodal-fm", llm.group(0))
    elif lang and VL.search(title):
        m = VL.search(title)
        f["family"] = ("vision-language", m.group(0))
        f["model_group"] = ("vision-language-fm", m.group(0))
    elif sam and not lang:
        f["family"] = ("vision-only", sam.group(0))
        f["model_group"] = ("vision-fm", sam.group(0))
    organ, general = ORGAN.search(title), GENERAL.search(title)
    if organ:
        f["band"] = ("organ-task-specific", organ.group(0))
    elif general:
        f["band"] = ("general", general.group(0))
    elif len(mods) == 1:
        f["band"] = ("modality-specific", f["modalities"][1])
    return f


# ----------------------------------------------------------------------------------------- the catalog's own entries

def load_kind(kind: str) -> dict[str, dict]:
    out = {}
    for p in sorted((ROOT / kind).glob("*.yaml")):
        out[p.stem] = yaml.safe_load(p.read_text(encoding="utf-8"))
    return out


def model_fields(models: list[dict]) -> tuple[dict, set, list[dict], str]:
    f, inf = {}, set()
    for key in ("modalities", "tasks", "adaptation"):
        vals = []
        for m in models:
            vals += [v for v in m.get(key) or [] if v not in vals]
        if vals:
            f[key] = vals
    for key in ("family", "band", "model_group"):
        vals = {m[key] for m in models if m.get(key)}
        if len(vals) == 1:
            f[key] = vals.pop()
    ds = []
    for m in models:
        for d in (m.get("pretraining") or {}).get("datasets") or []:
            if d not in ds:
                ds.append(d)
    if ds:
        f["datasets"] = ds
    for m in models:
        inf.update(set(m.get("inferred") or []) & set(f))
    ev, seen = [], set()
    for m in models:
        for s in m.get("sources") or []:
            if (s["url"], s["locator"]) not in seen:
                seen.add((s["url"], s["locator"]))
                ev.append({"url": s["url"], "locator": s["locator"]})
    ids = ", ".join(m["id"] for m in models)
    return f, inf, ev, ids


def result_fields(files: list[tuple[str, dict]]) -> tuple[dict, list[dict]]:
    ds, tasks, ev = [], [], []
    for name, data in files:
        locs = []
        for r in data["results"]:
            if r["dataset"] not in ds:
                ds.append(r["dataset"])
            if r["task"] not in tasks:
                tasks.append(r["task"])
            loc = re.sub(r"\s*\(line \d+\)", "", re.split(r",\s*row", r["locator"])[0])
            if loc not in locs:
                locs.append(loc)
        shown = "; ".join(locs[:4]) + (f"; … ({len(locs)} locators)" if len(locs) > 4 else "")
        ev.append({"url": data["source"]["url"], "locator": f"{shown} (results/{name})"})
    return {"datasets": ds, "tasks": tasks}, ev


# ----------------------------------------------------------------------------------------- assemble

def build(pid: str, paper: dict, models: list[dict], results: list[tuple[str, dict]], rows: list[dict],
          abstract: dict | None = None) -> dict | None:
    fields: dict = {}
    inferred: set = set()
    evidence: list[dict] = []
    notes: list[str] = []

    def add(ev_fields: list[str], url: str, locator: str, quote: str | None = None, kind: str | None = None):
        ev_fields = [f for f in schema.EXTRACTION_FIELDS if f in ev_fields]
        if not ev_fields:
            return
        for e in evidence:  # one evidence item per source place
            if e["url"] == url and e["locator"] == locator and e.get("quote") == quote:
                e["fields"] = [f for f in schema.EXTRACTION_FIELDS if f in set(e["fields"]) | set(ev_fields)]
                return
        item = {"fields": ev_fields, "kind": kind or ("list" if LIST_URL.search(url) else "paper"), "url": url,
                "locator": locator}
        if quote:
            item["quote"] = quote
        evidence.append(item)

    if models:
        f, inf, ev, ids = model_fields(models)
        took = [k for k in f if k not in fields]
        for k in took:
            fields[k] = f[k]
        inferred |= inf & set(took)
        for e in ev:
            add(took, e["url"], e["locator"])
        if took:
            notes.append(f"{', '.join(took)} from the catalog's model entr{'ies' if len(models) > 1 else 'y'} {ids} "
                         "(read at the sources cited)")
    if abstract:
        f = abstract["fields"]
        took = [k for k in schema.EXTRACTION_FIELDS if k in f and k not in fields]
        for k in took:
            fields[k] = f[k]
        inferred |= set(abstract.get("inferred") or []) & set(took)
        add(took, abstract["url"], abstract["locator"], abstract.get("quote"))
        if took:
            notes.append(f"{', '.join(took)} read in the paper's abstract"
                         + (f" ({abstract['note']})" if abstract.get("note") else ""))
    if results:
        f, ev = result_fields(results)
        took = [k for k in ("datasets", "tasks") if k not in fields and f[k]]
        if "datasets" in fields and f["datasets"]:  # results add evaluation datasets to pretraining ones
            extra = [d for d in f["datasets"] if d not in fields["datasets"]]
            if extra:
                fields["datasets"] = fields["datasets"] + extra
                took.append("datasets")
        for k in took:
            if k not in fields:
                fields[k] = f[k]
        for e in ev:
            add(took, e["url"], e["locator"])
        if took:
            notes.append(f"{', '.join(sorted(set(took)))} from the catalog's results read from this paper")
    for row in rows:
        f, inf, sec = heading_fields(row)
        if row["key"] == "sam4mis" and not re.search("segment", row["title"], re.I):
            named = title_fields(row["title"], has_tasks=False).get("tasks")
            if named and "segmentation" not in named[0]:
                f.pop("tasks", None)  # the title names another task (classification, detection ...): the title's
        took = [k for k in f if k not in fields]
        for k in took:
            fields[k] = f[k]
        inferred |= inf & set(took)
        where = f"README, section \"{sec}\", row at line {row['line']}" + (f" (dated {row['date']})" if row.get("date") else "")
        add(took, list_url(row["key"]), where, sec.split(" / ")[-1])
    # modalities of the catalog datasets the paper uses (inferred: a paper studies what its datasets hold)
    if "modalities" not in fields and fields.get("datasets") and DATASETS:
        used = [DATASETS[d] for d in fields["datasets"] if d in DATASETS]
        mods = []
        for d in used:
            mods += [m for m in d.get("modalities") or [] if m not in mods]
        if mods:
            fields["modalities"] = mods
            inferred.add("modalities")
            for d in used:
                src = (d.get("sources") or [None])[0]
                if src:
                    # where the dataset's modalities were read: not the paper itself (kind list)
                    add(["modalities"], src["url"], src["locator"], f"dataset {d['id']}: modalities "
                        + ", ".join(d.get("modalities") or []), kind="list")
            notes.append("modalities inferred from the catalog entries of its datasets "
                         f"({', '.join(d['id'] for d in used)})")
    # title keywords: the row's title where a list gave one, else the paper entry's own
    row = rows[0] if rows else None
    title = row["title"] if row else paper["title"]
    t = title_fields(title, has_tasks="tasks" in fields)
    took = [k for k in t if k not in fields]
    for k in took:
        fields[k] = t[k][0]
        inferred.add(k)
    if took:
        if row:
            url, where = list_url(row["key"]), f"README, row at line {row['line']}, title"
        else:
            url, where = paper["url"], "title of the paper entry"
        add(took, url, where, title)
        notes.append("inferred from keywords of the title: " + "; ".join(f"{k} from '{t[k][1]}'" for k in took))
    if not fields:
        return None
    ext = {k: fields[k] for k in schema.EXTRACTION_FIELDS if k in fields}
    ext["evidence"] = evidence
    if inferred:
        ext["inferred"] = [f for f in schema.EXTRACTION_FIELDS if f in inferred]
    ext["note"] = f"{SCRIPTED} by docs/curation/extract_paper_fields.py: " + "; ".join(notes) + "."
    schema.Extraction.model_validate(ext)  # refuse to write what the catalog would reject
    return ext


DATASETS: dict[str, dict] = {}


def main(argv: list[str]) -> int:
    DATASETS.update(load_kind("datasets"))
    papers = load_kind("papers")
    # the review's included papers (catalog/data/review): papers added since carry their curators' own extraction
    import json

    included = set()
    for line in (ROOT / "review" / "records.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("file", "").startswith("papers/"):
            included.add(Path(rec["file"]).stem)
    papers = {k: v for k, v in papers.items() if k in included}
    by_paper = defaultdict(list)
    for m in load_kind("models").values():
        if m.get("paper"):
            by_paper[m["paper"]].append(m)
    results = defaultdict(list)
    for p in sorted((ROOT / "results").glob("*.yaml")):
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
        results[data["source"]["paper"]].append((p.name, data))
    rows = [r for key in LISTS for r in list_rows(key)]
    by_arxiv, by_title = defaultdict(list), defaultdict(list)
    for r in rows:
        if r["arxiv"]:
            by_arxiv[r["arxiv"]].append(r)
        by_title[norm(r["title"])].append(r)
        if r.get("alt"):
            by_title[norm(r["alt"])].append(r)
    order = {"plm2233": 0, "xia": 1, "xmindflow": 2, "sam4mis": 3}
    abstracts = yaml.safe_load((Path(__file__).parent / "paper_abstracts.yaml").read_text(encoding="utf-8")) or {}
    unknown = sorted(set(abstracts) - set(papers))
    if unknown:
        raise SystemExit(f"paper_abstracts.yaml: not an included paper: {', '.join(unknown)}")
    written = 0
    for pid, paper in papers.items():
        old = paper.get("extraction")
        if old and not str(old.get("note", "")).startswith(SCRIPTED):
            continue  # curated by hand
        hits = list(by_arxiv.get(paper.get("arxiv") or "", []))
        nt = norm(paper["title"])
        if len(nt) > 15:
            hits += [r for r in by_title.get(nt, []) if r not in hits]
        hits.sort(key=lambda r: (order[r["key"]], r["line"]))
        ext = build(pid, paper, by_paper.get(pid, []), results.get(pid, []), hits, abstracts.get(pid))
        path = ROOT / "papers" / f"{pid}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # read-modify-write, now
        if ext is None:
            data.pop("extraction", None)
        else:
            data["extraction"] = ext
        text = yamlio.dumps(yamlio.canonical_order(data, schema.Paper))
        if text != path.read_text(encoding="utf-8"):
            yamlio.write_atomic(path, text)
            written += 1
    print(f"{written} paper files written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
