"""Real tiny checkpoints, each written by its own library's save function, for the zoo's tests.

Import from a test (pytest puts tests/ on sys.path): ``from zoo_fixtures import timm_vit, clip, colour_split``.

Checkpoints (each ``fn(directory) -> Path``: creates ``directory`` if needed, writes the checkpoint there with
the library's own save code, returns ``directory``; random weights from a fixed seed, so the same call writes
the same tensors; none downloads anything):

=====================  =========================================================================  ===========
function               layout written (library save function)                                     zoo format
=====================  =========================================================================  ===========
``timm_vit``           config.json + model.safetensors (``timm.models.save_for_hf``), ViT, 32 px   timm
``timm_resnet``        same layout, timm's ``test_resnet`` (a conv net, for channels-last), 32 px  timm
``open_clip_model``    open_clip_config.json + open_clip_model.safetensors +                      open_clip
                       open_clip_pytorch_model.bin + tokenizer files
                       (``open_clip.push_to_hf_hub.save_for_hf``), ViT towers, 32 px
``vit``                ``transformers.ViTModel.save_pretrained`` (+ preprocessor_config.json), 32 px transformers
``dinov2``             ``Dinov2Model.save_pretrained`` (+ preprocessor_config.json), 32 px         transformers
``clip``               ``CLIPModel.save_pretrained`` + a word-level tokenizer + image processor    transformers
``siglip``             ``SiglipModel.save_pretrained`` + a word-level tokenizer + image processor  transformers
``sam``                ``SamModel.save_pretrained`` + ``SamProcessor``'s image processor, 64 px    transformers
=====================  =========================================================================  ===========

``CHECKPOINTS`` maps these names to ``(function, format, recipes)``; ``recipes`` are the zoo recipes that
fit the checkpoint (fmreview.zoo.registry.recipe_for with the model family the test catalog gives it).

The text towers' tokenizers are built offline: ``WORDS`` is their whole vocabulary (a word-level
``tokenizers`` model saved as a ``PreTrainedTokenizerFast``), so prompts must use only those words (unknown
words become ``[UNK]``). ``open_clip_model(..., tokenizer="simple")`` instead leaves open_clip on its bundled
BPE tokenizer (as OpenAI/LAION hub repos do, whose open_clip_config.json names no ``hf_tokenizer_name``).

Data (known answers): ``colour_images(n_per_class, size, seed)`` gives N×H×W×3 uint8 images of the primary
colours red, green, blue (+ small noise) with labels 0, 1, 2 — separable by any encoder's frozen features, so
a linear probe or k-NN must reach balanced accuracy 1.0. ``colour_npz(path, ...)`` writes them in MedMNIST's
.npz layout (train/val/test). ``box_masks(n, size, seed)`` gives images with one bright rectangle on a dark
background and its mask, for promptable segmentation.

Catalog: ``catalog(root, model_id, fmt, family)`` writes tests/conftest.py's mini catalog plus a model with one
checkpoint of format ``fmt`` and two results (``<model_id>-probe``, ``<model_id>-knn``) that any checkpoint here
reproduces on ``colour_npz`` data, e.g.::

    cat = catalog(tmp_path / "catalog", "tiny-timm", "timm")
    main(["zoo", "verify", "tiny-timm", "--catalog", str(cat), "--checkpoint", f"local-dir:{timm_vit(d)}",
          "--data", str(colour_npz(tmp_path / "c.npz")), "--result", "tiny-timm-probe", ...])

Sizes are tiny (hidden 32, 2 layers) so every checkpoint saves and loads in about a second on one core.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

WORDS = ["[PAD]", "[UNK]", "a", "photo", "of", "the", "image", "red", "green", "blue", "dark", "bright", "[EOS]"]
COLOURS = ["red", "green", "blue"]
SEED = 0


def _dir(directory) -> Path:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _seed():
    import torch

    torch.manual_seed(SEED)


def word_tokenizer(directory=None, *, eos: bool = False):
    """A ``PreTrainedTokenizerFast`` over ``WORDS`` (whitespace split, ``[PAD]`` = 0, ``[UNK]`` = 1); saved
    into ``directory`` when given. ``eos``: append ``[EOS]`` (the highest id) to every text, as CLIP's
    tokenizer does, for towers that pool at the end-of-text token."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    if eos:
        tk.post_processor = processors.TemplateProcessing(single="$A [EOS]",
                                                          special_tokens=[("[EOS]", WORDS.index("[EOS]"))])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", unk_token="[UNK]",
                                  eos_token="[EOS]" if eos else None, model_max_length=16)
    if directory is not None:
        tok.save_pretrained(_dir(directory))
    return tok


# ---------------------------------------------------------------------------------------------------- timm
def timm_vit(directory) -> Path:
    """timm ViT (patch 8, width 32, depth 2, 3-class head) at 32 px, saved by ``timm.models.save_for_hf``
    (config.json with architecture + model_args + pretrained_cfg, model.safetensors)."""
    import timm
    from timm.models import save_for_hf

    d = _dir(directory)
    _seed()
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, embed_dim=32,
                              depth=2, num_heads=2, num_classes=3)
    save_for_hf(model.eval(), d, safe_serialization=True)
    return d


def timm_resnet(directory) -> Path:
    """timm's ``test_resnet`` (a small ResNet) at 32 px, saved by ``timm.models.save_for_hf``; a conv net, so
    the zoo's channels-last path applies to it."""
    import timm
    from timm.models import save_for_hf

    d = _dir(directory)
    _seed()
    model = timm.create_model("test_resnet", pretrained=False, num_classes=3)
    save_for_hf(model.eval(), d, safe_serialization=True,
                data_config={"input_size": (3, 32, 32), "mean": (0.485, 0.456, 0.406),
                             "std": (0.229, 0.224, 0.225), "interpolation": "bilinear", "crop_pct": 1.0,
                             "crop_mode": "center"})
    return d


# ------------------------------------------------------------------------------------------------ open_clip
def open_clip_config(tokenizer: str = "hf") -> dict:
    """The ``model_cfg`` of the tiny open_clip model (ViT image tower 32 px, transformer text tower)."""
    text = {"context_length": 16, "width": 32, "heads": 2, "layers": 2}
    if tokenizer == "hf":
        text.update(vocab_size=len(WORDS), hf_tokenizer_name="fmreview-test/word-level")
    elif tokenizer == "simple":
        text.update(vocab_size=49408)  # open_clip's bundled BPE vocabulary
    else:
        raise ValueError(f"tokenizer {tokenizer!r}: expected 'hf' or 'simple'")
    return {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16,
                                            "patch_size": 8}, "text_cfg": text}


def open_clip_model(directory, *, tokenizer: str = "hf", safe_serialization="both") -> Path:
    """A tiny open_clip CLIP written by open_clip's hub export (``open_clip.push_to_hf_hub.save_for_hf``):
    open_clip_config.json (model_cfg + preprocess_cfg), open_clip_model.safetensors and/or
    open_clip_pytorch_model.bin (``safe_serialization`` True / False / "both", open_clip's default), and the
    tokenizer files. ``tokenizer="hf"``: the config names an HF tokenizer, which open_clip then reads from the
    folder itself (``WORDS``); ``"simple"``: no ``hf_tokenizer_name``, so open_clip uses its bundled BPE."""
    import tempfile
    from dataclasses import asdict

    import open_clip
    from open_clip.model import set_model_preprocess_cfg
    from open_clip.push_to_hf_hub import save_for_hf
    from open_clip.tokenizer import HFTokenizer
    from open_clip.transform import PreprocessCfg

    d = _dir(directory)
    cfg = open_clip_config(tokenizer)
    _seed()
    model = open_clip.CLIP(**cfg).eval()
    # what open_clip.create_model attaches after building (the export reads model.visual.image_mean/std)
    set_model_preprocess_cfg(model, {**asdict(PreprocessCfg()), "size": model.visual.image_size})
    with tempfile.TemporaryDirectory() as td:
        word_tokenizer(td, eos=True)  # open_clip's text tower pools at the highest token id (argmax): [EOS]
        tok = HFTokenizer(td, context_length=16)
        save_for_hf(model, tok, cfg, d, safe_serialization=safe_serialization)
    return d


# -------------------------------------------------------------------------------------------- transformers
def _image_processor(cls, d: Path, size: int, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)):
    cls(size={"height": size, "width": size}, do_center_crop=False, image_mean=list(mean),
        image_std=list(std)).save_pretrained(d)


def vit(directory) -> Path:
    """``ViTModel`` (hidden 32, 2 layers, patch 8) at 32 px without pooler, ``save_pretrained`` (safetensors)."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    d = _dir(directory)
    _seed()
    cfg = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    image_size=32, patch_size=8)
    ViTModel(cfg, add_pooling_layer=False).eval().save_pretrained(d)
    _image_processor(ViTImageProcessor, d, 32)
    return d


def dinov2(directory) -> Path:
    """``Dinov2Model`` (hidden 32, 2 layers, patch 8) at 32 px, ``save_pretrained``."""
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    d = _dir(directory)
    _seed()
    cfg = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, image_size=32,
                       patch_size=8)
    Dinov2Model(cfg).eval().save_pretrained(d)
    BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(d)
    return d


def clip(directory) -> Path:
    """``CLIPModel`` (text and vision hidden 32, projection 16, image 32 px) + word-level tokenizer (with
    ``[EOS]``, CLIP's text pooling token, the highest id) + ``CLIPImageProcessor``, ``save_pretrained``."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    d = _dir(directory)
    eos = WORDS.index("[EOS]")
    cfg = CLIPConfig(text_config=dict(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=16,
                                      pad_token_id=0, bos_token_id=0, eos_token_id=eos),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, image_size=32, patch_size=8), projection_dim=16)
    _seed()
    CLIPModel(cfg).eval().save_pretrained(d)
    word_tokenizer(d, eos=True)
    _image_processor(CLIPImageProcessor, d, 32, (0.48145466, 0.4578275, 0.40821073),
                     (0.26862954, 0.26130258, 0.27577711))
    return d


def siglip(directory) -> Path:
    """``SiglipModel`` (text and vision hidden 32, image 32 px) + word-level tokenizer +
    ``SiglipImageProcessor``, ``save_pretrained``."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    d = _dir(directory)
    cfg = SiglipConfig(text_config=dict(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=16,
                                        pad_token_id=0),
                       vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                          num_attention_heads=2, image_size=32, patch_size=8))
    _seed()
    SiglipModel(cfg).eval().save_pretrained(d)
    word_tokenizer(d)
    _image_processor(SiglipImageProcessor, d, 32)
    return d


def sam(directory) -> Path:
    """``SamModel`` (vision hidden 32, 2 layers, image 64 px, patch 16, mask decoder hidden 32) +
    ``SamImageProcessor`` config, ``save_pretrained``."""
    from transformers import (SamConfig, SamImageProcessor, SamMaskDecoderConfig, SamModel, SamPromptEncoderConfig,
                              SamVisionConfig)

    d = _dir(directory)
    cfg = SamConfig(
        vision_config=SamVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, image_size=64, patch_size=16, output_channels=32,
                                      global_attn_indexes=[1], window_size=2, num_pos_feats=16),
        prompt_encoder_config=SamPromptEncoderConfig(hidden_size=32, image_size=64, patch_size=16,
                                                     mask_input_channels=4),
        mask_decoder_config=SamMaskDecoderConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                 mlp_dim=64, iou_head_hidden_dim=32))
    _seed()
    SamModel(cfg).eval().save_pretrained(d)
    SamImageProcessor(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64}).save_pretrained(d)
    return d


PROBE = ("linear-probe", "knn")
CHECKPOINTS = {
    # name: (function, zoo format, recipes that fit it)
    "timm_vit": (timm_vit, "timm", PROBE),
    "timm_resnet": (timm_resnet, "timm", PROBE),
    "open_clip_model": (open_clip_model, "open_clip", PROBE + ("zero-shot-classification",)),
    "vit": (vit, "transformers", PROBE),
    "dinov2": (dinov2, "transformers", PROBE),
    "clip": (clip, "transformers", PROBE + ("zero-shot-classification",)),
    "siglip": (siglip, "transformers", PROBE + ("zero-shot-classification",)),
    "sam": (sam, "transformers", ("promptable-segmentation",)),
}


# ------------------------------------------------------------------------------------------------------ data
def colour_images(n_per_class: int = 6, size: int = 32, seed: int = 0, noise: int = 20):
    """Red, green and blue images (uint8 N×size×size×3: the class's channel near 230, the others near 20,
    ± ``noise``) and their labels 0, 1, 2, in class-interleaved order."""
    rng = np.random.default_rng(seed)
    n = 3 * n_per_class
    y = np.arange(n) % 3
    x = rng.integers(0, noise + 1, (n, size, size, 3)) + 20
    x[np.arange(n), :, :, y] += 190
    return x.clip(0, 255).astype(np.uint8), y


def colour_npz(path, n_train: int = 6, n_test: int = 6, size: int = 32, seed: int = 0) -> Path:
    """``colour_images`` in MedMNIST's .npz layout (``train_/val_/test_images`` N×H×W×3, ``*_labels`` N×1);
    ``n_train`` / ``n_test`` images per class, val 2 per class."""
    path = Path(path)
    parts = {}
    for k, (split, n) in enumerate((("train", n_train), ("val", 2), ("test", n_test))):
        x, y = colour_images(n, size, seed + k)
        parts[f"{split}_images"], parts[f"{split}_labels"] = x, y.reshape(-1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **parts)
    return path


def box_masks(n: int = 4, size: int = 48, seed: int = 0):
    """Images (uint8 n×size×size×3, a bright rectangle on a dark noisy background) and the rectangles' masks
    (uint8 n×size×size, 1 inside)."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 30, (n, size, size, 3)).astype(np.uint8)
    masks = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        y0, x0 = rng.integers(2, size // 3, 2)
        h, w = rng.integers(size // 4, size // 2, 2)
        masks[i, y0:y0 + h, x0:x0 + w] = 1
        imgs[i, y0:y0 + h, x0:x0 + w] = 220
    return imgs, masks


def model_yaml(model_id: str, fmt: str | None, family: str = "vision-only") -> str:
    """A catalog model entry for a test checkpoint on the (loopback) hub as ``test/<model_id>``."""
    fmt_line = f"\n          format: {fmt}" if fmt else ""
    return f"""
        id: {model_id}
        name: {model_id} (test checkpoint saved by its library)
        year: 2024
        family: {family}
        band: general
        model_group: vision-fm
        modalities: [pathology]
        tasks: [classification]
        checkpoints:
        - hub: huggingface
          repo_id: test/{model_id}{fmt_line}
        sources:
        - url: https://example.org/{model_id}
          locator: test fixture
    """


def catalog(root, model_id: str, fmt: str | None, family: str = "vision-only") -> Path:
    """A test catalog (tests/conftest.py's mini catalog + one model): model ``model_id`` with one hub
    checkpoint ``test/<model_id>`` of format ``fmt`` (None: not stated, so the zoo reads it from the files),
    dataset ``colours``, and two results that a checkpoint from this module must reproduce on
    ``colour_npz`` data: ``<model_id>-probe`` (linear probe, balanced accuracy 100 %) and ``<model_id>-knn``
    (k-NN with k = 5, accuracy 1.0), each with an inline protocol naming its head. Returns the catalog root."""
    import textwrap

    from conftest import write_catalog

    model = model_yaml(model_id, fmt, family)
    dataset = """
        id: colours
        name: Red, green and blue images (synthetic)
        modalities: [pathology]
        tasks: [classification]
        sources:
        - url: https://example.org/colours
          locator: test fixture
    """
    results = f"""
        source:
          paper: clip-2021
          url: https://example.org/{model_id}
        results:
        - id: {model_id}-probe
          model: {model_id}
          dataset: colours
          task: classification
          metric: balanced-accuracy
          value: 100
          unit: percent
          setting: linear-probe
          protocol: {{head: {{kind: logistic-regression}}}}
          locator: Table 1
        - id: {model_id}-knn
          model: {model_id}
          dataset: colours
          task: classification
          metric: accuracy
          value: 1.0
          unit: fraction
          setting: knn
          protocol: {{head: {{kind: knn, k: 5}}}}
          locator: Table 1
    """
    return write_catalog(root, extra={f"models/{model_id}.yaml": textwrap.dedent(model),
                                      "datasets/colours.yaml": textwrap.dedent(dataset),
                                      f"results/{model_id}.yaml": textwrap.dedent(results)})


def files(directory) -> dict[str, bytes]:
    """Every file of a checkpoint folder by name (for serving it from tests/hubserver.py)."""
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()}


def config(directory, name: str = "config.json") -> dict:
    return json.loads((Path(directory) / name).read_text(encoding="utf-8"))
