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
    """An eval-mode torch module from a checkpoint folder."""
    folder = Path(folder)
    fmt = fmt or "transformers"
    if fmt == "transformers":
        from transformers import AutoConfig, AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # load reports go to the record, not the terminal

        try:
            config = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
        except ValueError as e:
            if "trust_remote_code" in str(e):
                raise LoadError("this checkpoint needs its own code; re-run with --trust-remote-code if you trust "
                                "its authors") from None
            raise
        has_st = any(folder.glob("*.safetensors"))
        model = AutoModel.from_pretrained(folder, config=config, use_safetensors=has_st,
                                          trust_remote_code=trust_remote_code)
        return model.eval()
    if fmt == "open_clip":
        try:
            import open_clip  # noqa: F401
        except ImportError:
            raise LoadError("open_clip checkpoints need `pip install open_clip_torch`") from None
        raise LoadError("open_clip checkpoints: load with open_clip.create_model_from_pretrained('hf-hub:REPO')")
    if fmt == "timm":
        try:
            import timm  # noqa: F401
        except ImportError:
            raise LoadError("timm checkpoints need `pip install timm`") from None
        raise LoadError("timm checkpoints: load with timm.create_model('hf-hub:REPO', pretrained=True)")
    raise LoadError(f"no loader for format {fmt!r}: the zoo loads transformers checkpoints (open_clip and timm "
                    "through their own libraries)")
