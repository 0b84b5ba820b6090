"""The catalog's data model (pydantic v2).

One YAML file per paper, model and dataset (``papers/ID.yaml`` …) and one file of results per source that
was read (``results/*.yaml``: the unit of data extraction in a systematic review). Unknown keys are rejected;
categorical fields take words from :mod:`fmreview.catalog.vocab`. The JSON Schema generated from these
classes is committed as ``catalog/schema.json`` (``fmreview catalog schema > catalog/schema.json``).

Field order here is the canonical key order of the YAML files (``fmreview catalog fmt``).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from . import vocab

MAX_YEAR = _dt.date.today().year + 1
MIN_YEAR = 1950

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")
ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")
DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _word(vocabulary: str):
    def check(v: str) -> str:
        if v not in vocab.VOCABULARIES[vocabulary]:
            hint = vocab.closest(vocabulary, v)
            c = vocab.canonical(vocabulary, v)
            if c:
                hint = [c]
            raise ValueError(
                f"unknown {vocabulary} word {v!r}"
                + (f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else "")
                + f"; expected one of: {', '.join(vocab.words(vocabulary))}"
            )
        return v

    return Annotated[
        str,
        AfterValidator(check),
        Field(json_schema_extra={"enum": vocab.words(vocabulary)}),
    ]


def _pattern(regex: re.Pattern, what: str):
    def check(v: str) -> str:
        if not regex.match(v):
            raise ValueError(f"malformed {what}: {v!r}")
        return v

    return Annotated[str, AfterValidator(check), Field(json_schema_extra={"pattern": regex.pattern})]


def _year(v: int) -> int:
    if not MIN_YEAR <= v <= MAX_YEAR:
        raise ValueError(f"implausible year {v}; expected {MIN_YEAR}..{MAX_YEAR}")
    return v


_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def _count(v: Any) -> Any:
    """Accept 86000000, '86M', '1.1B', '300k' and return an int."""
    if isinstance(v, str):
        s = v.strip().replace(",", "").replace("_", "").lower()
        if s and s[-1] in _SUFFIX:
            try:
                return int(round(float(s[:-1]) * _SUFFIX[s[-1]]))
            except ValueError:
                pass
        try:
            return int(s)
        except ValueError:
            raise ValueError(f"expected a count such as 86000000, '86M' or '1.1B', got {v!r}") from None
    return v


Id = _pattern(ID_RE, "id (lower-case letters, digits, '.', '_', '+', '-')")
Url = _pattern(URL_RE, "URL (expected http:// or https://)")
Arxiv = _pattern(ARXIV_RE, "arXiv id (expected e.g. 2304.12306, no version suffix)")
Doi = _pattern(DOI_RE, "DOI (expected 10.NNNN/suffix)")
Sha256 = _pattern(SHA256_RE, "sha256 (64 lower-case hex digits)")
Year = Annotated[int, AfterValidator(_year)]
Count = Annotated[int, BeforeValidator(_count), Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]

Modality = _word("modality")
Task = _word("task")
Family = _word("family")
Band = _word("band")
ModelGroup = _word("model_group")
Paradigm = _word("paradigm")
Adaptation = _word("adaptation")
Setting = _word("setting")
Prompt = _word("prompt")
Dimensionality = _word("dimensionality")
Access = _word("access")
PaperKind = _word("paper_kind")
Hub = _word("hub")
Format = _word("format")
ReportedBy = _word("reported_by")
Unit = _word("unit")
MetricWord = _word("metric")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Source(Strict):
    """Where a fact was read: the URL of the copy read and the place in it."""

    url: Url
    locator: Text = Field(description="Where in the source: 'Table 2', 'Fig. 3', 'README, section Results'.")


class Paper(Strict):
    id: Id
    title: Text
    authors: list[Text] = Field(min_length=1, description="As listed; 'et al.' is not an author.")
    year: Year
    venue: Optional[Text] = None
    arxiv: Optional[Arxiv] = None
    doi: Optional[Doi] = None
    url: Url = Field(description="The page that was read for this entry.")
    kind: PaperKind = "method"
    note: Optional[Text] = None


class Pretraining(Strict):
    paradigm: list[Paradigm] = Field(default_factory=list)
    datasets: list[Text] = Field(default_factory=list, description="Names, or catalog dataset ids.")
    images: Optional[Count] = None
    pairs: Optional[Count] = Field(None, description="Image-text pairs.")
    note: Optional[Text] = None


class CheckpointFile(Strict):
    path: Text
    sha256: Optional[Sha256] = None
    size: Optional[Count] = Field(None, description="Bytes.")


class Preprocessing(Strict):
    """What the image encoder expects; read from the checkpoint's own processor config or card."""

    image_size: Optional[Annotated[int, Field(gt=0)]] = None
    resize: Optional[Text] = Field(None, description="'shortest-edge', 'longest-edge', 'square'.")
    crop: Optional[Text] = Field(None, description="'center' or 'none'.")
    mean: Optional[list[float]] = None
    std: Optional[list[float]] = None
    window: Optional[list[float]] = Field(None, description="Intensity window [low, high], e.g. CT HU.")


class Checkpoint(Strict):
    name: Optional[Text] = Field(None, description="Variant, e.g. 'vit-b'.")
    hub: Hub
    repo_id: Optional[Text] = Field(None, description="'owner/name' on the hub.")
    revision: Optional[Text] = Field(None, description="Pinned commit hash or tag.")
    url: Optional[Url] = None
    format: Optional[Format] = None
    gated: Optional[bool] = Field(None, description="Access must be requested on the hub; unset = not stated in the source.")
    licence: Optional[Text] = None
    files: list[CheckpointFile] = Field(default_factory=list)
    preprocessing: Optional[Preprocessing] = None
    source: Optional[Source] = None

    @model_validator(mode="after")
    def _where(self) -> "Checkpoint":
        if self.hub == "huggingface" and not self.repo_id:
            raise ValueError("a huggingface checkpoint needs repo_id ('owner/name')")
        if self.hub != "huggingface" and not self.url and not self.repo_id:
            raise ValueError("a checkpoint needs url (or repo_id) saying where it lives")
        return self


class Model(Strict):
    id: Id
    name: Text
    paper: Optional[Id] = Field(None, description="Catalog paper id.")
    year: Year
    organisation: Optional[Text] = None
    family: Family
    band: Band
    model_group: ModelGroup
    architecture: Optional[Text] = None
    backbone: Optional[Text] = None
    base_model: Optional[Id] = Field(None, description="Catalog model id it was adapted from.")
    parameters: Optional[Count] = None
    modalities: list[Modality] = Field(min_length=1)
    anatomy: list[Text] = Field(default_factory=list)
    tasks: list[Task] = Field(min_length=1)
    pretraining: Optional[Pretraining] = None
    adaptation: list[Adaptation] = Field(default_factory=list)
    code: Optional[Url] = None
    licence: Optional[Text] = None
    open_weights: Optional[bool] = None
    checkpoints: list[Checkpoint] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)
    note: Optional[Text] = None


class DatasetSize(Strict):
    images: Optional[Count] = None
    volumes: Optional[Count] = None
    slides: Optional[Count] = None
    videos: Optional[Count] = None
    patients: Optional[Count] = None
    studies: Optional[Count] = None
    pairs: Optional[Count] = None
    questions: Optional[Count] = None
    masks: Optional[Count] = None


class Dataset(Strict):
    id: Id
    name: Text
    modalities: list[Modality] = Field(min_length=1)
    anatomy: list[Text] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    dimensionality: Optional[Dimensionality] = None
    size: Optional[DatasetSize] = None
    classes: Optional[Count] = None
    year: Optional[Year] = None
    paper: Optional[Id] = None
    url: Optional[Url] = None
    licence: Optional[Text] = None
    access: Optional[Access] = None
    sources: list[Source] = Field(min_length=1)
    note: Optional[Text] = None


class Uncertainty(Strict):
    sd: Optional[Annotated[float, Field(ge=0)]] = None
    se: Optional[Annotated[float, Field(ge=0)]] = None
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    ci_level: Optional[Annotated[float, Field(gt=0, lt=1)]] = Field(None, description="Default 0.95.")

    @model_validator(mode="after")
    def _ci(self) -> "Uncertainty":
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("ci_low and ci_high come together")
        if self.ci_low is not None and self.ci_low > self.ci_high:
            raise ValueError(f"ci_low {self.ci_low} is above ci_high {self.ci_high}")
        if all(v is None for v in (self.sd, self.se, self.ci_low)):
            raise ValueError("uncertainty needs sd, se or ci_low/ci_high")
        return self


class ClassPrompts(Strict):
    """What a zero-shot classifier is asked: the dataset's classes in label order and the prompt templates
    ('{}' stands for the class name) the source used."""

    classes: list[Text] = Field(min_length=2)
    templates: list[Text] = Field(default_factory=lambda: ["{}"], min_length=1)

    @model_validator(mode="after")
    def _placeholder(self) -> "ClassPrompts":
        bad = [t for t in self.templates if "{}" not in t]
        if bad:
            raise ValueError(f"template {bad[0]!r} has no '{{}}' for the class name")
        return self


class Result(Strict):
    id: Id
    model: Id
    dataset: Id
    subset: Optional[Text] = Field(None, description="Label, organ or class within the dataset, if the number is for part of it.")
    task: Task
    metric: MetricWord
    value: float
    unit: Unit
    split: Optional[Text] = None
    setting: Setting
    shots: Optional[Annotated[int, Field(gt=0)]] = Field(None, description="k for few-shot.")
    prompt: Prompt = "none"
    prompt_count: Optional[Annotated[int, Field(gt=0)]] = Field(
        None, description="Prompts given per object or image (1, 3, 5 points ...), where the source varies it.")
    condition: Optional[Text] = Field(
        None, description="What else sets this number apart from others of the same model, dataset, setting and "
        "prompt in its source, as the source names it: 'input 256×256', 'CLIP-Adapter', 'overlap=0.7', "
        "'released weights'.")
    n: Optional[Annotated[int, Field(gt=0)]] = Field(None, description="Test cases the value is computed on.")
    n_positive: Optional[Annotated[int, Field(ge=0)]] = None
    n_negative: Optional[Annotated[int, Field(ge=0)]] = None
    uncertainty: Optional[Uncertainty] = None
    locator: Text = Field(description="Where in the source: 'Table 3', 'README, zero-shot table'.")
    url: Optional[Url] = Field(None, description="Overrides the file's source URL for this result.")
    tolerance: Optional[Annotated[float, Field(gt=0)]] = Field(None, description="Reproduction tolerance, in the value's unit.")
    class_prompts: Optional[ClassPrompts] = Field(None, description="For zero-shot classification: classes and templates.")
    note: Optional[Text] = None

    @model_validator(mode="after")
    def _units(self) -> "Result":
        m = vocab.METRICS[self.metric]
        if self.setting == "few-shot" and self.shots is None:
            raise ValueError("a few-shot result needs shots (k)")
        if self.unit in ("fraction", "percent") and not m.proportion:
            raise ValueError(f"metric {self.metric} is not a proportion; unit {self.unit!r} does not apply")
        if m.proportion and self.unit not in ("fraction", "percent"):
            raise ValueError(f"metric {self.metric} is a proportion: unit must be 'fraction' or 'percent'")
        v = self.value / 100 if self.unit == "percent" else self.value
        if (m.low is not None and v < m.low) or (m.high is not None and v > m.high):
            hi = "inf" if m.high is None else (m.high * 100 if self.unit == "percent" else m.high)
            lo = m.low * 100 if (self.unit == "percent" and m.low is not None) else m.low
            raise ValueError(f"value {self.value} is outside {self.metric}'s range [{lo}, {hi}] in unit {self.unit}")
        return self


class ResultSource(Strict):
    paper: Id = Field(description="Catalog paper the numbers were read from.")
    url: Url = Field(description="The copy that was read (README, arXiv HTML, model card).")
    reported_by: ReportedBy = "self"


class ResultFile(Strict):
    """All results extracted from one source."""

    source: ResultSource
    results: list[Result] = Field(min_length=1)


ENTITIES: dict[str, type[Strict]] = {
    "papers": Paper,
    "models": Model,
    "datasets": Dataset,
    "results": ResultFile,
}


def json_schema() -> dict:
    """The catalog's JSON Schema: one definition per file kind."""
    from pydantic.json_schema import models_json_schema

    _, top = models_json_schema([(cls, "validation") for cls in ENTITIES.values()], title="fmreview catalog")
    top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    top["description"] = "Files: papers/ID.yaml (Paper), models/ID.yaml (Model), datasets/ID.yaml (Dataset), results/*.yaml (ResultFile)."
    return top
