"""Shared fixtures: a small, valid, hand-written catalog to test the engine on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

PAPERS = {
    "sam-2023": """
        id: sam-2023
        title: Segment Anything
        authors: [Alexander Kirillov, Eric Mintun]
        year: 2023
        arxiv: '2304.02643'
        url: https://arxiv.org/abs/2304.02643
        kind: method
    """,
    "medsam-2024": """
        id: medsam-2024
        title: Segment anything in medical images
        authors: [Jun Ma, Bo Wang]
        year: 2024
        venue: Nature Communications
        doi: 10.1038/s41467-024-44824-z
        url: https://arxiv.org/abs/2304.12306
        kind: method
    """,
    "clip-2021": """
        id: clip-2021
        title: Learning Transferable Visual Models From Natural Language Supervision
        authors: [Alec Radford]
        year: 2021
        url: https://arxiv.org/abs/2103.00020
    """,
}

MODELS = {
    "sam": """
        id: sam
        name: SAM
        paper: sam-2023
        year: 2023
        family: vision-only
        band: general
        model_group: vision-fm
        parameters: 636M
        modalities: [natural]
        tasks: [segmentation]
        checkpoints:
        - hub: huggingface
          repo_id: facebook/sam-vit-huge
          format: transformers
        sources:
        - url: https://github.com/facebookresearch/segment-anything
          locator: README
    """,
    "medsam": """
        id: medsam
        name: MedSAM
        paper: medsam-2024
        year: 2024
        family: vision-only
        band: general
        model_group: vision-fm
        base_model: sam
        parameters: 93.7M
        modalities: [ct, mri, x-ray]
        tasks: [segmentation]
        adaptation: [full-fine-tune]
        sources:
        - url: https://github.com/bowang-lab/MedSAM
          locator: README
    """,
    "clip": """
        id: clip
        name: CLIP
        paper: clip-2021
        year: 2021
        family: vision-language
        band: general
        model_group: vision-language-fm
        modalities: [natural, text]
        tasks: [classification, retrieval]
        open_weights: true
        sources:
        - url: https://github.com/openai/CLIP
          locator: README
    """,
}

DATASETS = {
    "btcv": """
        id: btcv
        name: BTCV
        modalities: [ct]
        anatomy: [abdomen]
        tasks: [segmentation]
        dimensionality: 3d
        size: {volumes: 50}
        access: registration
        sources:
        - url: https://www.synapse.org/Synapse:syn3193805
          locator: wiki
    """,
    "chexpert": """
        id: chexpert
        name: CheXpert
        modalities: [x-ray]
        tasks: [classification]
        dimensionality: 2d
        size: {images: 224316}
        year: 2019
        sources:
        - url: https://stanfordmlgroup.github.io/competitions/chexpert/
          locator: About
    """,
}

RESULTS = {
    "medsam-2024": """
        source:
          paper: medsam-2024
          url: https://github.com/bowang-lab/MedSAM
          reported_by: self
        results:
        - id: r-medsam-btcv
          model: medsam
          dataset: btcv
          task: segmentation
          metric: dice
          value: 79.3
          unit: percent
          setting: zero-shot
          prompt: box
          n: 30
          uncertainty: {sd: 8.0, over: cases}
          locator: Table 1
        - id: r-sam-btcv
          model: sam
          dataset: btcv
          task: segmentation
          metric: dice
          value: 0.65
          unit: fraction
          setting: zero-shot
          prompt: box
          locator: Table 1
        - id: r-clip-chexpert
          model: clip
          dataset: chexpert
          subset: Atelectasis
          task: classification
          metric: auc
          value: 0.6
          unit: fraction
          setting: few-shot
          shots: 5
          uncertainty: {ci_low: 0.55, ci_high: 0.65}
          locator: Table 4
    """,
}


def write_catalog(root: Path, extra: dict[str, str] | None = None) -> Path:
    """Write the mini catalog (plus ``extra``: relative path -> YAML text) under root."""
    for kind, entries in (("papers", PAPERS), ("models", MODELS), ("datasets", DATASETS), ("results", RESULTS)):
        (root / kind).mkdir(parents=True, exist_ok=True)
        for name, text in entries.items():
            (root / kind / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    for rel, text in (extra or {}).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


@pytest.fixture
def mini_catalog(tmp_path) -> Path:
    return write_catalog(tmp_path / "catalog")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own parse cache directory, so no test sees another's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture(autouse=True)
def _own_hf_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own Hugging Face cache. huggingface_hub reads HF_HUB_CACHE once, at import, so setting
    the variable in a test does not move the cache; and the loopback hubs of different tests serve repos of the
    same name at the same commit (the commit is a hash of the name), which would otherwise come from one another's
    downloads instead of over the wire. The user's own cache is never touched."""
    try:
        import huggingface_hub.constants as hf_constants
    except ImportError:  # the zoo extra is not installed: nothing downloads
        return
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-cache")))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Modules that run the tiny models (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): they run
    ~40x faster on one thread than on threads fighting over two busy cores."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
