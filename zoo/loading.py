"""Loading checkpoints per format: safetensors first, ``torch.load(weights_only=True)`` otherwise, and remote
code only when the user passes ``--trust-remote-code``."""

from __future__ import annotations

from pathlib import Path


class LoadError(Exception):
    pass


def load_state_dict(path: Path):
    """A plain state dict: .safetensors via safetensors, anything else via torch.load(weights_only=True)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # pickles with code in them are refused, not executed
        raise LoadError(f"{path.name}: not loadable with torch.load(weights_only=True) ({e})") from None


def load_model(folder: Path, fmt: str | None, *, trust_remote_code: bool = False):
    """An eval-mode model from a checkpoint folder, by its library: transformers (``AutoModel``), open_clip and
    timm (their own ``local-dir:`` loaders, behind an ``Adapter``). ``fmt`` None reads the format from the
    files (``detect_format``). A stated format whose files are not there, while another library's are, is
    refused as a misstated format; anything the library raises becomes a LoadError naming the folder.

    The normalisation the checkpoint declares is in ``model.preprocessing`` (size, mean, std): open_clip's
    preprocess_cfg, timm's pretrained_cfg, or a transformers image processor's preprocessor_config.json."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LoadError(f"{folder}: no such checkpoint folder")
    if fmt:
        _check_stated_format(folder, fmt)
    fmt = fmt or detect_format(folder)
    if fmt == "transformers":
        return _transformers(folder, trust_remote_code)
    if fmt == "open_clip":
        return _open_clip(folder)
    if fmt == "timm":
        return _timm(folder)
    raise LoadError(f"no loader for format {fmt!r}: the zoo loads transformers, open_clip and timm checkpoints "
                    "(a plain torch state dict carries no architecture to load it into)")


def _transformers(folder: Path, trust_remote_code: bool):
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # load reports go to the record, not the terminal
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except ValueError as e:
        if "trust_remote_code" in str(e):
            raise LoadError("this checkpoint needs its own code; re-run with --trust-remote-code if you trust "
                            "its authors") from None
        raise LoadError(f"transformers could not read {folder / 'config.json'} ({e})") from None
    except OSError as e:
        raise LoadError(f"transformers could not load {folder} ({e})") from None
    has_st = any(folder.glob("*.safetensors"))
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar for reading local weights is noise; downloads keep theirs
    try:
        model = AutoModel.from_pretrained(folder, config=config, use_safetensors=has_st,
                                          trust_remote_code=trust_remote_code)
    except Exception as e:  # noqa: BLE001 - whatever the library raises (SafetensorError too) is a load error
        raise LoadError(f"transformers could not load the weights in {folder} ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    pre = processor_preprocessing(folder)
    if pre:
        model.preprocessing = pre
    return model.eval()


def processor_preprocessing(folder: Path) -> dict | None:
    """size, mean and std from a transformers image processor's preprocessor_config.json (None when there is
    none, or it states no mean/std). The size is what the encoder sees: the crop when the processor crops,
    else its height, shortest or longest edge."""
    import json

    try:
        cfg = json.loads((Path(folder) / "preprocessor_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict) or not cfg.get("image_mean") or not cfg.get("image_std"):
        return None
    mean, std = cfg["image_mean"], cfg["image_std"]
    if isinstance(mean, (int, float)):
        mean = [mean] * 3
    if isinstance(std, (int, float)):
        std = [std] * 3
    out = {"mean": tuple(float(v) for v in mean), "std": tuple(float(v) for v in std)}
    size = None
    crop, s = cfg.get("crop_size"), cfg.get("size")
    if cfg.get("do_center_crop") and crop:
        size = crop.get("height") if isinstance(crop, dict) else crop
    elif isinstance(s, dict):
        size = s.get("height") or s.get("shortest_edge") or s.get("longest_edge")
    elif isinstance(s, (int, float)):
        size = s
    if size:
        out["size"] = int(size)
    return out


def _check_stated_format(folder: Path, fmt: str) -> None:
    """A LoadError when the catalog's format is not what the folder holds: the stated format's own files are
    absent and another library's are there."""
    own = {"open_clip": (folder / "open_clip_config.json").is_file(), "timm": _has_timm_config(folder),
           "transformers": _has_model_type(folder)}
    if fmt not in own or own[fmt]:
        return
    found = detect_format(folder)
    if found == fmt or not own.get(found):
        return  # nobody's files: the library's own error says what is missing
    what = {"open_clip": "open_clip_config.json", "timm": "a config.json naming an architecture (timm's layout)",
            "transformers": "a config.json with a model_type"}
    raise LoadError(f"{folder}: the catalog says format {fmt}, but the folder holds a {found} checkpoint "
                    f"({what[found]}), not {what[fmt]}; correct the checkpoint's format in the catalog entry")


def _config(folder: Path):
    import json

    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cfg if isinstance(cfg, dict) else {}


def _has_timm_config(folder: Path) -> bool:
    cfg = _config(folder)
    return "architecture" in cfg and "model_type" not in cfg


def _has_model_type(folder: Path) -> bool:
    return "model_type" in _config(folder)


def detect_format(folder: Path) -> str:
    """The format of a checkpoint folder whose catalog entry does not state one, from the files the libraries
    write: open_clip_config.json (open_clip); a config.json with ``architecture`` and no ``model_type`` (timm's
    hub layout); anything else is tried as transformers."""
    folder = Path(folder)
    if (folder / "open_clip_config.json").is_file():
        return "open_clip"
    return "timm" if _has_timm_config(folder) else "transformers"


def _library(name: str, pip_name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise LoadError(f"{pip_name} checkpoints need {pip_name}: `pip install {pip_name}` (or install "
                        "fmreview's zoo extra, `pip install 'fmreview[zoo]'`, which includes it)") from None


class Adapter:
    """A non-transformers model behind the interface the recipes use: ``get_image_features(pixel_values=…)``,
    for CLIP-style models ``text_features(texts, device)``, ``config.image_size``, and the normalisation the
    checkpoint was trained with in ``preprocessing`` (size, mean, std)."""

    def __init__(self, module, *, size: int, mean, std, image_fn, text_fn=None):
        from types import SimpleNamespace

        self.module, self._image_fn, self._text_fn = module, image_fn, text_fn
        self.config = SimpleNamespace(image_size=size)
        self.preprocessing = {"size": size, "mean": tuple(mean), "std": tuple(std)}

    def to(self, *args, **kwargs):
        self.module.to(*args, **kwargs)
        return self

    def eval(self):
        self.module.eval()
        return self

    def get_image_features(self, pixel_values):
        return self._image_fn(pixel_values)

    @property
    def has_text(self) -> bool:
        return self._text_fn is not None

    def text_features(self, texts: list[str], device: str):
        if self._text_fn is None:
            raise LoadError("this checkpoint has no text encoder")
        return self._text_fn(texts, device)


def _size(value) -> int:
    return int(value[-1] if isinstance(value, (tuple, list)) else value)


def _open_clip(folder: Path) -> Adapter:
    """open_clip's own loader on the folder (``local-dir:``: open_clip_config.json + weights; it reads
    safetensors first and pickles with weights_only=True)."""
    open_clip = _library("open_clip", "open_clip_torch")
    try:
        model = open_clip.create_model_from_pretrained(f"local-dir:{folder}", return_transform=False,
                                                        weights_only=True)
        tokenizer = open_clip.get_tokenizer(f"local-dir:{folder}")
    except Exception as e:
        raise LoadError(f"open_clip could not load {folder} ({type(e).__name__}: {e}); the folder needs "
                        "open_clip_config.json and the weights, and open_clip_torch >= 3") from None
    cfg = dict(getattr(model.visual, "preprocess_cfg", None) or {})
    size = _size(cfg.get("size") or getattr(model.visual, "image_size", 224))
    mean = cfg.get("mean") or (0.48145466, 0.4578275, 0.40821073)
    std = cfg.get("std") or (0.26862954, 0.26130258, 0.27577711)

    def text(texts, device):
        return model.encode_text(tokenizer(texts).to(device))

    return Adapter(model, size=size, mean=mean, std=std, image_fn=model.encode_image, text_fn=text).eval()


def _timm(folder: Path) -> Adapter:
    """timm's own loader on the folder (``local-dir:``: config.json + weights, safetensors first, pickles with
    weights_only=True), with the classifier removed so the model returns its pooled features."""
    timm = _library("timm", "timm")
    try:
        from timm.data import resolve_model_data_config

        model = timm.create_model(f"local-dir:{folder}", pretrained=True, num_classes=0)
        data = resolve_model_data_config(model)
    except Exception as e:
        raise LoadError(f"timm could not load {folder} ({type(e).__name__}: {e}); the folder needs config.json "
                        "and the weights, and timm >= 1.0 (checkpoints whose card asks for extra create_model "
                        "arguments are not supported)") from None
    return Adapter(model, size=_size(data["input_size"]), mean=data["mean"], std=data["std"],
                   image_fn=lambda x: model(x)).eval()
