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
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, create_model,
                      model_validator)

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
# The one notation a count may be written in as a string: digits, an optional decimal point, an optional
# k/M/B/T suffix ('86M', '1.1B', '300k', '93735472'). No thousands separators and no decimal comma: '93,7M'
# (a decimal comma) and '93,700,000' (separators) look alike, and reading either wrongly is a silent 10-1000x.
COUNT_RE = re.compile(r"^(\d+(?:\.\d+)?)([kmbt]?)$", re.IGNORECASE)


def _count(v: Any) -> Any:
    """Accept 86000000, '86M', '1.1B', '300k' and return an int; refuse any other string."""
    if isinstance(v, bool):
        raise ValueError(f"expected a count such as 86000000, '86M' or '1.1B', got {v!r}")
    if isinstance(v, str):
        m = COUNT_RE.match(v.strip())
        if not m:
            raise ValueError(f"expected a count such as 86000000, '86M' or '1.1B' (digits, an optional decimal point "
                             f"and k/M/B/T; no commas, spaces or other units), got {v!r}")
        number, suffix = m.groups()
        value = float(number) * (_SUFFIX[suffix.lower()] if suffix else 1)
        if not suffix and "." in number:
            raise ValueError(f"a count is a whole number; got {v!r}")
        return int(round(value))
    return v


def _number(v: Any) -> Any:
    """A number must be a YAML number: a string ('0.85', '1.2B', '93,7') is refused rather than converted."""
    if isinstance(v, bool) or isinstance(v, str):
        hint = " (write it without quotes)" if isinstance(v, str) and _plain_number(v) else ""
        raise ValueError(f"expected a number, got {'the string ' if isinstance(v, str) else ''}{v!r}{hint}; "
                         "numbers are written as YAML numbers (0.85, 85.2, 420), without quotes, units, suffixes or "
                         "commas")
    return v


def _plain_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


Id = _pattern(ID_RE, "id (lower-case letters, digits, '.', '_', '+', '-')")
Url = _pattern(URL_RE, "URL (expected http:// or https://)")
Arxiv = _pattern(ARXIV_RE, "arXiv id (expected e.g. 2304.12306, no version suffix)")
Doi = _pattern(DOI_RE, "DOI (expected 10.NNNN/suffix)")
Sha256 = _pattern(SHA256_RE, "sha256 (64 lower-case hex digits)")
Number = Annotated[float, BeforeValidator(_number)]
Integer = Annotated[int, BeforeValidator(_number)]
Year = Annotated[int, BeforeValidator(_number), AfterValidator(_year)]
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
AggregateKind = _word("aggregate")
UncertaintyOver = _word("uncertainty_over")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Source(Strict):
    """Where a fact was read: the URL of the copy read and the place in it."""

    url: Url
    locator: Text = Field(description="Where in the source: 'Table 2', 'Fig. 3', 'README, section Results'.")


# The fields of a paper's extraction (the review's data items), in canonical order.
EXTRACTION_FIELDS = ("modalities", "tasks", "family", "band", "model_group", "adaptation", "datasets")


def _extraction_field(v: str) -> str:
    if v not in EXTRACTION_FIELDS:
        raise ValueError(f"unknown extraction field {v!r}; expected one of: {', '.join(EXTRACTION_FIELDS)}")
    return v


ExtractionField = Annotated[str, AfterValidator(_extraction_field), Field(json_schema_extra={"enum": list(EXTRACTION_FIELDS)})]


class Evidence(Strict):
    """Where some fields of a paper's extraction come from: the paper itself (its arXiv abstract or HTML page,
    locator 'Abstract', 'Sec. 3', 'Table 1') or a list that classifies it (a README section or row at a commit)."""

    fields: list[ExtractionField] = Field(min_length=1, description="The extraction fields this source supports.")
    kind: Optional[_word("evidence_kind")] = Field(None, description="paper (the paper itself: its page, README or "
                                                  "model card) | list (a list that classifies it); unset: told by the "
                                                  "URL (a SAM4MIS or awesome-list README is a list)")
    url: Url = Field(description="The copy read: the paper's page, or a list's README at a commit (blob/<sha>/README.md).")
    locator: Text = Field(description="Where in it: 'Abstract', 'Table 1', 'README, section \"CT Models\", line 56'.")
    quote: Optional[Text] = Field(None, description="The source's own words the fields were read from (a section "
                                  "heading, a title, a phrase of the abstract), so the mapping to vocabulary words "
                                  "can be checked.")


class Extraction(Strict):
    """The paper as a unit of analysis: what it is about, each field with the source it was read from."""

    modalities: list[Modality] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    family: Optional[Family] = None
    band: Optional[Band] = None
    model_group: Optional[ModelGroup] = None
    adaptation: list[Adaptation] = Field(default_factory=list, description="How the paper adapts a model: adapter, "
                                         "lora, full-fine-tune, prompt-tuning, distillation, federated ...")
    datasets: list[Text] = Field(default_factory=list, description="Catalog dataset ids where they exist, else names.")
    evidence: list[Evidence] = Field(min_length=1)
    inferred: list[ExtractionField] = Field(default_factory=list, description="Fields inferred rather than read "
                                            "(a modality from a title that names 'CT'); say how in note.")
    note: Optional[Text] = None

    def set_fields(self) -> list[str]:
        return [f for f in EXTRACTION_FIELDS if getattr(self, f) not in (None, [])]

    @model_validator(mode="after")
    def _evidence(self) -> "Extraction":
        from pydantic import ValidationError
        from pydantic_core import InitErrorDetails, PydanticCustomError

        errors = []

        def err(loc: tuple, msg: str, value: Any) -> None:
            errors.append(InitErrorDetails(type=PydanticCustomError("extraction", msg), loc=loc, input=value))

        have = self.set_fields()
        if not have:
            err((), "an extraction needs at least one field (" + ", ".join(EXTRACTION_FIELDS) + ")", {})
        covered = {f for ev in self.evidence for f in ev.fields}
        for f in have:
            if f not in covered:
                err((f,), f"{f} has no evidence: no evidence item names {f!r} in its fields (leave a field out when "
                    "no source gives it)", getattr(self, f))
        for i, ev in enumerate(self.evidence):
            unset = [f for f in ev.fields if f not in have]
            if unset:
                err(("evidence", i, "fields"), f"evidence for {', '.join(unset)}, which the extraction does not set",
                    ev.fields)
        stray = [f for f in self.inferred if f not in have]
        if stray:
            err(("inferred",), f"inferred names {', '.join(stray)}, which the extraction does not set", self.inferred)
        if errors:
            raise ValidationError.from_exception_data("Extraction", errors)
        return self


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
    extraction: Optional[Extraction] = Field(None, description="Per-paper data extraction: modalities, tasks, "
                                             "family, band, model group, adaptation and datasets, each with evidence.")
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

    image_size: Optional[Annotated[Integer, Field(gt=0)]] = None
    resize: Optional[Text] = Field(None, description="'shortest-edge', 'longest-edge', 'square'.")
    crop: Optional[Text] = Field(None, description="'center' or 'none'.")
    mean: Optional[list[Number]] = None
    std: Optional[list[Number]] = None
    window: Optional[list[Number]] = Field(None, description="Intensity window [low, high], e.g. CT HU.")


LICENCE_PLACES = ("licence-file", "model-card", "readme-text", "badge", "list")


class LicenceClaim(Strict):
    """What one place says the licence is, recorded where two places disagree (``licence_conflict``)."""

    licence: Text = Field(description="The licence as that place states it (SPDX id where the text is a standard licence).")
    place: Literal[LICENCE_PLACES] = Field(  # type: ignore[valid-type]
        description="licence-file (a LICENSE file at a commit) | model-card (the hub card) | readme-text (a README's "
        "own words) | badge (a README badge) | list (an awesome list's column). Only a licence-file or a model-card "
        "claim can be the entry's licence: a badge or a list is recorded to show the disagreement, never used.")
    source: Source


def _licence_conflict_field():
    return Field(default_factory=list, description="Where two places disagree on the licence: every claim with "
                 "its place and source (e.g. LICENSE file Apache-2.0 vs README badge GPL; repository LICENSE MIT vs "
                 "model card CC-BY-NC-ND-4.0). The entry's licence, if set, is one of the licence-file or model-card "
                 "claims.")


class Checkpoint(Strict):
    name: Optional[Text] = Field(None, description="Variant, e.g. 'vit-b'.")
    hub: Hub
    repo_id: Optional[Text] = Field(None, description="'owner/name' on the hub.")
    revision: Optional[Text] = Field(None, description="Pinned commit hash or tag.")
    url: Optional[Url] = None
    format: Optional[Format] = None
    gated: Optional[bool] = Field(None, description="Access must be requested on the hub; unset = not stated in the source.")
    licence: Optional[Text] = Field(None, description="The checkpoint's own licence (weights can differ from the "
                                    "code); needs licence_source.")
    licence_source: Optional[Source] = Field(None, description="Where the checkpoint's licence was read: its model "
                                             "card or LICENSE file at a commit (badges do not count).")
    licence_conflict: list[LicenceClaim] = _licence_conflict_field()
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
    licence_source: Optional[Source] = Field(None, description="Where the licence was read: the LICENSE file at a "
                                             "commit or the model card (badges do not count).")
    licence_conflict: list[LicenceClaim] = _licence_conflict_field()
    open_weights: Optional[bool] = None
    checkpoints: list[Checkpoint] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)
    inferred: list[Text] = Field(default_factory=list, description="Fields the curator inferred rather than read in "
                                 "the source (their names: 'setting', 'dataset', 'modalities'); say why in note.")
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
    inferred: list[Text] = Field(default_factory=list, description="Fields the curator inferred rather than read in "
                                 "the source (their names: 'setting', 'dataset', 'modalities'); say why in note.")
    note: Optional[Text] = None


class Uncertainty(Strict):
    sd: Optional[Annotated[Number, Field(ge=0)]] = None
    se: Optional[Annotated[Number, Field(ge=0)]] = None
    ci_low: Optional[Number] = None
    ci_high: Optional[Number] = None
    ci_level: Optional[Annotated[Number, Field(gt=0, lt=1)]] = Field(None, description="Default 0.95.")
    over: Optional[UncertaintyOver] = Field(
        None, description="What the spread is over, as the source says: cases, bootstrap, runs (seeds, episodes) "
                          "or folds. Only cases and bootstrap give the value's sampling variance; an SD over runs "
                          "is the training's variability (added as SD^2/runs where runs is given).")
    runs: Optional[Annotated[int, Field(ge=2)]] = Field(
        None, description="How many runs or folds the value is the mean of and the spread is over (with over: "
                          "runs or folds).")

    @model_validator(mode="after")
    def _ci(self) -> "Uncertainty":
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("ci_low and ci_high come together")
        if self.ci_low is not None and self.ci_low > self.ci_high:
            raise ValueError(f"ci_low {self.ci_low} is above ci_high {self.ci_high}")
        if all(v is None for v in (self.sd, self.se, self.ci_low)):
            raise ValueError("uncertainty needs sd, se or ci_low/ci_high")
        if self.runs is not None and self.over not in ("runs", "folds"):
            raise ValueError(f"runs {self.runs} goes with over: runs or over: folds (got over: {self.over})")
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


Resize = Literal["shortest-edge", "longest-edge", "square"]
Crop = Literal["center", "none"]
HeadKind = Literal["linear", "logistic-regression", "knn", "zero-shot", "box-prompt"]
Optimiser = Literal["sgd", "adam", "adamw", "lbfgs"]
KnnWeighting = Literal["uniform", "similarity", "exp-similarity"]
MaskSelection = Literal["single", "multimask-highest-iou"]
Averaging = Literal["macro", "weighted", "micro", "balanced", "binary"]


class Head(Strict):
    """What sits on the encoder and how it is fitted, as the source states it.

    ``linear``: a linear layer trained with ``optimiser`` for ``epochs`` (or ``max_steps``) at ``learning_rate``,
    ``batch_size``, ``weight_decay``; ``logistic-regression``: an L2-regularised multinomial logistic regression
    fitted to convergence (``l2``, ``max_iter``); ``knn``: ``k`` neighbours, votes weighted by ``weighting``
    (``temperature`` for exp-similarity), ``distance``; ``zero-shot``: class prompts from ``templates`` ('{}' is the
    class name), scored as a softmax over classes or over a positive/negative pair (``negative_templates``);
    ``box-prompt``: the ground-truth box as prompt, one mask kept by ``mask_selection``."""

    kind: HeadKind
    optimiser: Optional[Optimiser] = None
    schedule: Optional[Text] = Field(None, description="Learning-rate schedule in the source's words: 'cosine'.")
    epochs: Optional[Annotated[Integer, Field(gt=0)]] = None
    max_steps: Optional[Annotated[Integer, Field(gt=0)]] = None
    learning_rate: Optional[Annotated[Number, Field(gt=0)]] = None
    batch_size: Optional[Annotated[Integer, Field(gt=0)]] = None
    weight_decay: Optional[Annotated[Number, Field(ge=0)]] = None
    momentum: Optional[Annotated[Number, Field(ge=0)]] = None
    early_stopping: Optional[Text] = Field(None, description="In the source's words: 'patience 5% of max epochs'.")
    patience: Optional[Annotated[Integer, Field(gt=0)]] = Field(
        None, description="Early stopping: epochs without improvement of ``monitor`` on the validation split; the "
        "head of the best validation epoch is kept.")
    monitor: Optional[Literal["loss", "accuracy", "balanced-accuracy"]] = Field(
        None, description="What early stopping watches on the validation split.")
    l2: Optional[Annotated[Number, Field(ge=0)]] = Field(None, description="L2 penalty of a logistic regression.")
    max_iter: Optional[Annotated[Integer, Field(gt=0)]] = None
    k: Optional[Annotated[Integer, Field(gt=0)]] = None
    temperature: Optional[Annotated[Number, Field(gt=0)]] = None
    weighting: Optional[KnnWeighting] = None
    distance: Optional[Literal["cosine", "euclidean"]] = None
    center: Optional[bool] = Field(None, description="kNN: subtract the train split's mean feature first.")
    normalise: Optional[bool] = Field(None, description="kNN: L2-normalise the features (before a Euclidean distance).")
    templates: Optional[list[Text]] = Field(None, min_length=1)
    negative_templates: Optional[list[Text]] = Field(
        None, min_length=1, description="Zero-shot with a positive/negative prompt pair per class: softmax over the "
        "pair gives the class probability (CheXzero).")
    logit_scale: Optional[Annotated[Number, Field(gt=0)]] = Field(
        None, description="Zero-shot: the factor on cosine similarities before the softmax (CLIP's 100).")
    mask_selection: Optional[MaskSelection] = None
    note: Optional[Text] = None

    @model_validator(mode="after")
    def _fits_kind(self) -> "Head":
        for name in ("templates", "negative_templates"):
            bad = [t for t in (getattr(self, name) or []) if "{}" not in t]
            if bad:
                raise ValueError(f"{name} {bad[0]!r} has no '{{}}' for the class name")
        allowed = {
            "linear": {"optimiser", "schedule", "epochs", "max_steps", "learning_rate", "batch_size", "weight_decay",
                       "momentum", "early_stopping", "patience", "monitor"},
            "logistic-regression": {"optimiser", "l2", "max_iter"},
            "knn": {"k", "temperature", "weighting", "distance", "center", "normalise"},
            "zero-shot": {"templates", "negative_templates", "logit_scale"},
            "box-prompt": {"mask_selection"},
        }[self.kind]
        stray = sorted(n for n in self.model_fields_set - {"kind", "note"} if n not in allowed)
        if stray:
            raise ValueError(f"kind {self.kind!r} does not take {', '.join(stray)} (it takes: "
                             f"{', '.join(sorted(allowed))})")
        return self


# The fields a protocol states, shared by a named protocol (protocols/ID.yaml) and a result's inline block.
_PROTOCOL_FIELDS: dict[str, Any] = {
    "input_size": (Optional[Annotated[Integer, Field(gt=0)]], Field(None, description="Side of the model input, pixels.")),
    "resize": (Optional[Resize], Field(None, description="shortest-edge (then crop), longest-edge (then pad) or square.")),
    "crop": (Optional[Crop], None),
    "mean": (Optional[list[Number]], Field(None, min_length=3, max_length=3)),
    "std": (Optional[list[Number]], Field(None, min_length=3, max_length=3)),
    "backbone": (Optional[Literal["frozen", "trained"]],
                 Field(None, description="frozen (probe on fixed features) or trained with the head (end to end).")),
    "head": (Optional[Head], None),
    "seeds": (Optional[list[Integer]], Field(None, min_length=1, description="The seeds, where the source lists them.")),
    "runs": (Optional[Annotated[Integer, Field(gt=0)]], Field(None, description="Runs averaged (seeds not listed).")),
    "train_split": (Optional[Text], None),
    "test_split": (Optional[Text], None),
    "averaging": (Optional[Averaging], Field(None, description="How a per-class metric is averaged over classes.")),
    "inferred": (list[Text], Field(default_factory=list, description="Fields the curator inferred rather than read "
                                   "in the source ('head.epochs', 'resize'); say why in note.")),
    "note": (Optional[Text], None),
}

def _protocol_inferred(self):
    """Each ``inferred`` name is a field the protocol sets: a top-level one or ``head.<field>``."""
    for name in self.inferred:
        top, _, sub = name.partition(".")
        if top not in _PROTOCOL_FIELDS or top in ("inferred", "note") or (sub and top != "head") \
                or (sub and sub not in Head.model_fields):
            raise ValueError(f"inferred names {name!r}, which is not a protocol field; expected names such as "
                             "input_size, resize, mean or head.k")
        value = getattr(self, top)
        if sub:
            value = getattr(value, sub, None) if value is not None else None
        if value in (None, [], ""):
            raise ValueError(f"inferred names {name!r}, which is not set on this protocol")
    return self


_PROTOCOL_VALIDATORS = {"_inferred_names": model_validator(mode="after")(_protocol_inferred)}

ProtocolSpec = create_model(
    "ProtocolSpec", __base__=Strict, __module__=__name__,
    __doc__="How a number was measured: what a re-run must do to be comparable. Fields the source does not state "
            "are left out (a re-run then uses the zoo's default and the record says so).",
    __validators__=_PROTOCOL_VALIDATORS, **_PROTOCOL_FIELDS)

Protocol = create_model(
    "Protocol", __base__=Strict, __module__=__name__,
    __doc__="A named protocol (protocols/ID.yaml) that results refer to with `protocol: ID`.",
    __validators__=_PROTOCOL_VALIDATORS,
    id=(Id, ...), name=(Text, ...), sources=(list[Source], Field(min_length=1)), **_PROTOCOL_FIELDS)


def _protocol_kind(v: Any) -> str:
    # a dict when validating, the ProtocolSpec itself when serialising
    return "tag:block" if isinstance(v, (dict, BaseModel)) else "tag:id"


# `protocol: ID` names a protocol in protocols/; `protocol: {…}` states one inline. The tag picks which, so an
# error speaks about the one the curator wrote (the store drops "tag:" from error locations).
ProtocolRef = Annotated[Union[Annotated[Id, Tag("tag:id")], Annotated[ProtocolSpec, Tag("tag:block")]],
                        Discriminator(_protocol_kind)]


def _aggregate_word(v: Any) -> Any:
    # `aggregate: mean` is short for `aggregate: {kind: mean}`
    return {"kind": v} if isinstance(v, str) else v


class Aggregate(Strict):
    """What a result that summarises other results is: how it combines them and over what."""

    kind: AggregateKind = Field(description="mean | weighted-mean | median | pooled | not-stated.")
    over: Optional[Text] = Field(None, description="What is combined, in the source's words: 'the 12 structures', "
                                 "'five folds', 'tumour subregions (TC, WT, ET)'.")


class Result(Strict):
    id: Id
    model: Id
    dataset: Id
    subset: Optional[Text] = Field(None, description="Label, organ or class within the dataset, if the number is for part of it.")
    modality: Optional[Modality] = Field(
        None, description="The modality of this result's images, where its dataset has several and the source row "
        "names one (e.g. in its task or subset name). Without it a result on a multi-modality dataset matches no "
        "modality filter.")
    anatomy: Optional[Text] = Field(
        None, description="The anatomy of this result's images, where its dataset covers several and the source row "
        "names one.")
    task: Task
    metric: MetricWord
    value: Number
    unit: Unit
    split: Optional[Text] = None
    setting: Setting
    shots: Optional[Annotated[Integer, Field(gt=0)]] = Field(None, description="k for few-shot.")
    prompt: Prompt = "none"
    prompt_count: Optional[Annotated[Integer, Field(gt=0)]] = Field(
        None, description="Prompts given per object or image (1, 3, 5 points ...), where the source varies it.")
    condition: Optional[Text] = Field(
        None, description="What else sets this number apart from others of the same model, dataset, setting and "
        "prompt in its source, as the source names it: 'input 256×256', 'CLIP-Adapter', 'overlap=0.7', "
        "'released weights'.")
    aggregate: Optional[Annotated[Aggregate, BeforeValidator(_aggregate_word)]] = Field(
        None, description="Marks a result that combines other results of its source (an 'Ave' row, a mean over "
        "folds or organs): a kind word, or {kind, over}. Analyses do not pool it with its parts.")
    n: Optional[Annotated[Integer, Field(gt=0)]] = Field(None, description="Test cases the value is computed on.")
    n_positive: Optional[Annotated[Integer, Field(ge=0)]] = None
    n_negative: Optional[Annotated[Integer, Field(ge=0)]] = None
    uncertainty: Optional[Uncertainty] = None
    locator: Text = Field(description="Where in the source: 'Table 3', 'README, zero-shot table'.")
    url: Optional[Url] = Field(None, description="Overrides the file's source URL for this result.")
    tolerance: Optional[Annotated[Number, Field(gt=0)]] = Field(None, description="Reproduction tolerance, in the value's unit.")
    class_prompts: Optional[ClassPrompts] = Field(None, description="For zero-shot classification: classes and templates.")
    protocol: Optional[ProtocolRef] = Field(
        None, description="How the number was measured: a named protocol's id (protocols/ID.yaml) or an inline block. "
        "Without one a zoo re-run is indicative only.")
    doubt: Optional[Text] = Field(
        None, description="Why this value may be wrong (recorded as printed): 'AUC far below 0.5, probably "
        "inverted'. Analyses leave doubtful values out unless asked.")
    inferred: list[Text] = Field(default_factory=list, description="Fields the curator inferred rather than read in "
                                 "the source (their names: 'setting', 'dataset', 'modalities'); say why in note.")
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
        scale = 100.0 if self.unit == "percent" else 1.0
        v = self.value / scale
        if (m.low is not None and v < m.low) or (m.high is not None and v > m.high):
            hi = "inf" if m.high is None else (m.high * 100 if self.unit == "percent" else m.high)
            lo = m.low * 100 if (self.unit == "percent" and m.low is not None) else m.low
            raise ValueError(f"value {self.value} is outside {self.metric}'s range [{lo}, {hi}] in unit {self.unit}")
        u = self.uncertainty
        if u is not None and u.ci_low is not None and not (u.ci_low <= self.value <= u.ci_high):
            raise ValueError(f"value {self.value} is outside its own confidence interval [{u.ci_low}, {u.ci_high}] "
                             "(uncertainty.ci_low/ci_high); check both against the source")
        if u is not None and m.low is not None and m.high is not None:
            # Popoviciu's inequality: a quantity confined to [a, b] has SD <= (b - a) / 2; the SE of a mean of such
            # quantities is at most their SD. Anything larger is a typo or another unit (SD in percent on a
            # fraction value, a variance, a CI width).
            bound = (m.high - m.low) / 2 * scale
            for name in ("sd", "se"):
                x = getattr(u, name)
                if x is not None and x > bound:
                    raise ValueError(
                        f"{name} {x:g} is impossible for {self.metric} in unit {self.unit}: a value "
                        f"confined to [{m.low * scale:g}, {m.high * scale:g}] has {name} at most {bound:g} "
                        "(Popoviciu's inequality); is it in another unit, a variance or an interval width?")
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
    "protocols": Protocol,
}


def json_schema() -> dict:
    """The catalog's JSON Schema: one definition per file kind."""
    from pydantic.json_schema import models_json_schema

    _, top = models_json_schema([(cls, "validation") for cls in ENTITIES.values()], title="fmreview catalog")
    # `aggregate: mean` is short for `aggregate: {kind: mean}` (converted before validation, so pydantic's schema
    # shows only the mapping)
    agg = top["$defs"]["Result"]["properties"]["aggregate"]
    agg["anyOf"] = [{"type": "string", "enum": vocab.words("aggregate")}] + agg["anyOf"]
    top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    top["description"] = "Files: papers/ID.yaml (Paper), models/ID.yaml (Model), datasets/ID.yaml (Dataset), results/*.yaml (ResultFile), protocols/ID.yaml (Protocol)."
    return top
