"""Controlled vocabularies of the catalog, in one place.

Every categorical field in catalog/data takes its words from here. Words are lower-case slugs; each has a
display label (used in tables and figures) and, where the field uses other spellings, aliases that queries
accept (``--modality CT`` finds ``ct``). The taxonomies follow the four founding reviews: the spectrum
general → modality-specific → organ/task-specific (Liang et al. 2025), vision-only vs vision-language vs
multimodal LLM, and the model groups pretrained / vision FM / vision-language FM / multimodal FM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .errors import QueryError


@dataclass(frozen=True)
class Term:
    word: str
    label: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Metric(Term):
    """A performance metric: its valid range (in fraction form for proportions) and direction."""

    low: float | None = 0.0
    high: float | None = 1.0
    higher_is_better: bool = True
    proportion: bool = True  # reported as fraction or percent; percent is divided by 100 on load


def _terms(*rows: tuple) -> dict[str, Term]:
    out = {}
    for row in rows:
        word, label, *aliases = row
        out[word] = Term(word, label, tuple(aliases))
    return out


MODALITIES = _terms(
    ("ct", "CT", "computed tomography"),
    ("cbct", "Cone-beam CT", "cone-beam ct"),
    ("mri", "MRI", "mr", "magnetic resonance"),
    ("x-ray", "X-ray", "xray", "cxr", "radiograph", "chest x-ray"),
    ("mammography", "Mammography", "mammo"),
    ("pet", "PET"),
    ("spect", "SPECT"),
    ("ultrasound", "Ultrasound", "us", "echocardiography"),
    ("pathology", "Pathology", "histopathology", "wsi", "whole-slide image"),
    ("cytology", "Cytology"),
    ("microscopy", "Microscopy", "cell microscopy"),
    ("fundus", "Fundus photography", "cfp", "colour fundus", "color fundus"),
    ("oct", "OCT", "optical coherence tomography"),
    ("fluorescein-angiography", "Fluorescein angiography", "ffa", "fa"),
    ("dermoscopy", "Dermoscopy", "dermatology", "skin"),
    ("clinical-photo", "Clinical photograph"),
    ("endoscopy", "Endoscopy", "colonoscopy", "laparoscopy"),
    ("surgical-video", "Surgical video"),
    ("natural", "Natural images", "natural image"),
    ("text", "Text", "report", "radiology report"),
    ("ecg", "ECG"),
    ("genomics", "Genomics", "omics"),
    ("ehr", "EHR", "clinical data", "tabular"),
)

TASKS = _terms(
    ("classification", "Classification", "diagnosis"),
    ("segmentation", "Segmentation"),
    ("detection", "Detection", "localisation", "localization"),
    ("prognosis", "Prognosis", "survival", "survival prediction"),
    ("report-generation", "Report generation", "captioning", "radiology report generation"),
    ("image-generation", "Image generation", "synthesis"),
    ("vqa", "Visual question answering", "visual question answering"),
    ("retrieval", "Retrieval", "image-text retrieval", "cross-modal retrieval"),
    ("grounding", "Grounding", "phrase grounding", "visual grounding"),
    ("registration", "Registration"),
    ("reconstruction", "Reconstruction", "denoising", "super-resolution", "enhancement"),
    ("regression", "Regression", "biomarker prediction"),
    ("tracking", "Tracking", "video object tracking"),
    ("depth-estimation", "Depth estimation", "depth"),
    ("representation", "Representation learning", "feature extraction", "pretraining"),
)

FAMILIES = _terms(
    ("vision-only", "Vision-only", "vision"),
    ("vision-language", "Vision-language", "vlm", "vision language"),
    ("multimodal-llm", "Multimodal LLM", "mllm", "multimodal llm", "lvlm"),
)

BANDS = _terms(
    ("general", "General"),
    ("modality-specific", "Modality-specific", "modality"),
    ("organ-task-specific", "Organ/task-specific", "organ-specific", "task-specific", "organ"),
)

MODEL_GROUPS = _terms(
    ("pretrained", "Pretrained model"),
    ("vision-fm", "Vision foundation model"),
    ("vision-language-fm", "Vision-language foundation model"),
    ("multimodal-fm", "Multimodal foundation model"),
)

PARADIGMS = _terms(
    ("contrastive", "Contrastive (image-text)", "clip"),
    ("contrastive-ssl", "Contrastive self-supervised", "simclr", "moco"),
    ("masked-image-modelling", "Masked image modelling", "mim", "mae", "masked-image-modeling"),
    ("self-distillation", "Self-distillation", "dino", "dinov2", "ibot"),
    ("supervised", "Supervised"),
    ("generative", "Generative", "diffusion"),
    ("autoregressive", "Autoregressive language modelling", "next-token"),
    ("instruction-tuning", "Instruction tuning", "visual instruction tuning"),
    ("restorative", "Restorative/reconstructive self-supervision", "models genesis"),
    ("promptable-segmentation", "Promptable segmentation training"),
)

ADAPTATIONS = _terms(
    ("none", "None (used as is)", "zero-shot"),
    ("full-fine-tune", "Full fine-tuning", "fine-tune", "full fine-tuning"),
    ("partial-fine-tune", "Partial fine-tuning", "decoder fine-tuning"),
    ("adapter", "Adapter"),
    ("lora", "LoRA", "low-rank adaptation"),
    ("prompt-tuning", "Prompt tuning", "visual prompt tuning"),
    ("prompting", "Prompting (no training)", "in-context learning"),
    ("linear-probe", "Linear probe"),
    ("distillation", "Distillation", "knowledge distillation"),
    ("federated", "Federated training", "federated learning"),
    ("instruction-tuning", "Instruction tuning"),
    ("continued-pretraining", "Continued pretraining", "domain-adaptive pretraining"),
)

SETTINGS = _terms(
    ("zero-shot", "Zero-shot"),
    ("few-shot", "Few-shot"),
    ("linear-probe", "Linear probe"),
    ("knn", "k-NN", "k-nn"),
    ("fine-tune", "Fine-tuned", "full fine-tune", "fine-tuning"),
    ("adapter", "Adapter/PEFT", "lora", "peft"),
    ("mil", "Multiple-instance learning", "abmil", "slide-level"),
    ("supervised", "Trained from scratch / supervised baseline", "scratch"),
    ("not-stated", "Not stated by the source"),
)

PROMPTS = _terms(
    ("none", "None"),
    ("box", "Box"),
    ("point", "Point(s)", "points", "click"),
    ("text", "Text"),
    ("mask", "Mask"),
    ("box+point", "Box and point"),
    ("point+text", "Point and text"),
    ("box+text", "Box and text"),
    ("everything", "Everything / automatic", "auto"),
    ("reference", "Reference image–mask pairs (in-context)", "in-context", "support set"),
    ("not-stated", "Not stated by the source"),
)

DIMENSIONALITIES = _terms(("2d", "2D"), ("3d", "3D"), ("video", "Video"), ("2d+3d", "2D and 3D"))

ACCESS = _terms(
    ("open", "Open"),
    ("registration", "Registration / data-use agreement", "dua", "credentialed"),
    ("restricted", "Restricted / on request", "private"),
)

PAPER_KINDS = _terms(
    ("method", "Method"),
    ("benchmark", "Benchmark / evaluation"),
    ("review", "Review / survey", "survey"),
    ("dataset", "Dataset"),
)

HUBS = _terms(
    ("huggingface", "Hugging Face hub", "hf"),
    ("github", "GitHub releases"),
    ("google-drive", "Google Drive"),
    ("zenodo", "Zenodo"),
    ("baidu", "Baidu Netdisk"),
    ("other", "Other host"),
)

FORMATS = _terms(
    ("transformers", "transformers (save_pretrained)"),
    ("open_clip", "open_clip"),
    ("timm", "timm"),
    ("torch", "PyTorch state dict / pickle"),
    ("safetensors", "safetensors state dict"),
    ("monai-bundle", "MONAI bundle"),
    ("other", "Other"),
)

REPORTED_BY = _terms(("self", "Model authors"), ("third-party", "Third party"))

# Where a field of a paper's extraction was read: the paper itself (its page, its README or model card) or a
# list that classifies papers (an awesome-list README's section or row).
EVIDENCE_KINDS = _terms(
    ("paper", "The paper itself (its page, README or model card)", "own"),
    ("list", "A list that classifies it (README section or row)", "awesome list"),
)

UNITS = _terms(("fraction", "Fraction (0-1)"), ("percent", "Percent (0-100)"), ("mm", "Millimetres"), ("none", "Unitless"))

AGGREGATES = _terms(
    ("mean", "Mean (unweighted) of the parts", "average", "ave", "avg", "macro", "macro-average"),
    ("weighted-mean", "Weighted mean of the parts", "weighted", "weighted average"),
    ("median", "Median of the parts"),
    ("pooled", "Computed over the parts' cases together", "micro", "micro-average"),
    ("not-stated", "An aggregate of the parts; how is not stated by the source"),
)

# What a reported SD, SE or CI spans. Only a spread over the test cases (or a bootstrap of them) is the sampling
# error the pooling weights need; a spread over training runs is the training's variability, another component.
UNCERTAINTY_OVER = _terms(
    ("cases", "Over the test cases (an SD of per-case values; its SE is SD/sqrt(n))", "images", "patients", "subjects"),
    ("bootstrap", "A bootstrap of the test cases (the bootstrap SD is the SE of the value)", "resamples"),
    ("runs", "Over repeated trainings or evaluations on the same test set (seeds, episodes)", "seeds", "repeats",
     "episodes"),
    ("folds", "Over cross-validation folds (each fold its own test cases)", "cross-validation", "cv"),
    ("not-stated", "The source does not say what the spread is over"),
)

# Modalities that accompany images in a dataset rather than being a kind of image (a report beside a chest
# X-ray): a dataset of x-ray images with their reports is, for a result's modality, an x-ray dataset.
PAIRED_MODALITIES = frozenset({"text", "ehr", "genomics"})


def _metrics(*rows: tuple) -> dict[str, Metric]:
    out = {}
    for word, label, aliases, low, high, higher, proportion in rows:
        out[word] = Metric(word, label, tuple(aliases), low, high, higher, proportion)
    return out


INF = None
METRICS = _metrics(
    # word, label, aliases, low, high, higher_is_better, proportion
    ("dice", "Dice (DSC)", ("dsc", "dice score"), 0, 1, True, True),
    ("nsd", "Normalised surface Dice", ("normalized surface dice",), 0, 1, True, True),
    ("iou", "IoU (Jaccard)", ("jaccard", "miou"), 0, 1, True, True),
    ("hd95", "95% Hausdorff distance", ("hd 95", "95hd"), 0, INF, False, False),
    ("hd", "Hausdorff distance", ("hausdorff",), 0, INF, False, False),
    ("assd", "Average symmetric surface distance", ("asd",), 0, INF, False, False),
    ("auc", "AUROC", ("auroc", "roc auc"), 0, 1, True, True),
    ("auprc", "AUPRC", ("average precision",), 0, 1, True, True),
    ("accuracy", "Accuracy", ("acc",), 0, 1, True, True),
    ("balanced-accuracy", "Balanced accuracy", ("bacc",), 0, 1, True, True),
    ("f1", "F1 score", ("f1-score", "macro-f1"), 0, 1, True, True),
    ("sensitivity", "Sensitivity (recall)", ("recall", "tpr"), 0, 1, True, True),
    ("specificity", "Specificity", ("tnr",), 0, 1, True, True),
    ("precision", "Precision (PPV)", ("ppv",), 0, 1, True, True),
    ("kappa", "Cohen's kappa", ("quadratic weighted kappa", "qwk"), -1, 1, True, True),
    ("c-index", "Concordance index", ("c index",), 0, 1, True, True),
    ("recall-at-k", "Recall@K", ("r@k",), 0, 1, True, True),
    ("map", "Mean average precision", ("mAP",), 0, 1, True, True),
    ("bleu-1", "BLEU-1", (), 0, 1, True, True),
    ("bleu-4", "BLEU-4", (), 0, 1, True, True),
    ("rouge-l", "ROUGE-L", (), 0, 1, True, True),
    ("meteor", "METEOR", (), 0, 1, True, True),
    ("cider", "CIDEr", (), 0, INF, True, False),
    ("bertscore", "BERTScore", (), -1, 1, True, True),
    ("radgraph-f1", "RadGraph F1", ("radgraph",), 0, 1, True, True),
    ("chexbert-f1", "CheXbert F1", ("chexbert",), 0, 1, True, True),
    ("green", "GREEN score", (), 0, 1, True, True),
    ("bleu", "BLEU (n-gram order not stated by the source)", (), 0, 1, True, True),
    ("semb-score", "SembScore (CheXbert embedding cosine similarity)", ("sembscore",), -1, 1, True, True),
    ("radcliq-v0", "RadCliQ-v0 (lower is better)", (), INF, INF, False, False),
    ("radcliq-v1", "RadCliQ-v1 (lower is better)", (), INF, INF, False, False),
    ("fineradscore", "FineRadScore (lower is better)", (), INF, INF, False, False),
    ("pearson-r", "Pearson correlation", ("pearson",), -1, 1, True, False),
    ("psnr", "PSNR (dB)", (), 0, INF, True, False),
    ("ssim", "SSIM", (), -1, 1, True, True),
    ("fid", "FID", (), 0, INF, False, False),
    ("mae", "Mean absolute error", (), 0, INF, False, False),
    ("rmse", "Root mean squared error", (), 0, INF, False, False),
    ("abs-rel", "Absolute relative error", ("absrel", "abs rel"), 0, INF, False, False),
    ("panoptic-quality", "Panoptic quality", ("pq", "bpq", "mpq"), 0, 1, True, True),
)


VOCABULARIES: dict[str, dict[str, Term]] = {
    "modality": MODALITIES,
    "task": TASKS,
    "family": FAMILIES,
    "band": BANDS,
    "model_group": MODEL_GROUPS,
    "paradigm": PARADIGMS,
    "adaptation": ADAPTATIONS,
    "setting": SETTINGS,
    "prompt": PROMPTS,
    "dimensionality": DIMENSIONALITIES,
    "access": ACCESS,
    "paper_kind": PAPER_KINDS,
    "hub": HUBS,
    "format": FORMATS,
    "reported_by": REPORTED_BY,
    "evidence_kind": EVIDENCE_KINDS,
    "unit": UNITS,
    "metric": METRICS,
    "aggregate": AGGREGATES,
    "uncertainty_over": UNCERTAINTY_OVER,
}


def canonical(vocabulary: str, word: str) -> str | None:
    """The vocabulary's word for ``word`` (case-insensitive, aliases accepted), or None if unknown."""
    terms = VOCABULARIES[vocabulary]
    w = str(word).strip().lower()
    if w in terms:
        return w
    for term in terms.values():
        if w == term.label.lower() or w in (a.lower() for a in term.aliases):
            return term.word
    return None


def label(vocabulary: str, word: str) -> str:
    term = VOCABULARIES[vocabulary].get(word)
    return term.label if term else word


def words(vocabulary: str) -> list[str]:
    return list(VOCABULARIES[vocabulary])


def closest(vocabulary: str, word: str, n: int = 3) -> list[str]:
    """Suggestions for an unknown word (for error messages)."""
    import difflib

    return difflib.get_close_matches(str(word).lower(), words(vocabulary), n=n, cutoff=0.5)


def choices(vocabulary: str, sep: str = " | ") -> str:
    """The vocabulary's words joined for a help text (``zero-shot | few-shot | …``): generated, so no word is
    left out of a help text when the vocabulary grows."""
    return sep.join(words(vocabulary))


def resolve_many(vocabulary: str, values: Iterable[str]) -> list[str]:
    """Canonical words for user input such as CLI filters; unknown words raise :class:`QueryError`."""
    out = []
    for v in values:
        c = canonical(vocabulary, v)
        if c is None:
            hint = closest(vocabulary, v)
            raise QueryError(
                f"unknown {vocabulary} {v!r}; expected one of: {', '.join(words(vocabulary))}"
                + (f" (did you mean {', '.join(hint)}?)" if hint else "")
            )
        out.append(c)
    return out
