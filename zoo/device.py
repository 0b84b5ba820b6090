"""Where to run, and how: bf16 autocast where the device has it, channels-last for conv nets on CUDA, pinned
host memory with non-blocking copies, and batched inference that survives out-of-memory by halving the batch.

The recipes call three helpers around their forward passes::

    model = prepare_model(model, device)          # to the device; channels-last when it is a CUDA conv net
    x = to_device(x, device, model)               # pinned + non_blocking on CUDA, in the model's memory format
    with torch.inference_mode(), autocast(device):
        ...

and ``batched(fn, items, batch_size, device)`` around them. ``precision(device)`` names what autocast does,
for the record.
"""

from __future__ import annotations

import contextlib

from .loading import LoadError

CHANNELS_LAST_FLAG = "_fmreview_channels_last"


class DeviceOutOfMemory(LoadError):
    """The model does not run on the device even one image at a time (a LoadError, so the CLI reports it as a
    clear message with exit code 1)."""


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        return "cpu"  # CPU fallback; the record says which device ran
    return requested


def _is_cuda(device) -> bool:
    return str(device).split(":")[0] == "cuda"


def bf16_supported(device) -> bool:
    """Whether autocast runs in bfloat16 on ``device``: CUDA devices that support it (Ampere and newer;
    ``torch.cuda.is_bf16_supported``). CPUs run in float32: bf16 there is slow on most chips and changes
    numbers for no gain."""
    import torch

    return _is_cuda(device) and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def precision(device) -> str:
    """What the recipes' forward passes run in on ``device``: 'bf16-autocast' or 'fp32'."""
    return "bf16-autocast" if bf16_supported(device) else "fp32"


def autocast(device):
    """bf16 autocast where the device supports it (see ``bf16_supported``); float32 otherwise."""
    import torch

    if bf16_supported(device):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _module(model):
    """The torch module behind a model (the zoo's open_clip/timm Adapter wraps the library's module)."""
    return getattr(model, "module", model)


def is_conv_net(module) -> bool:
    """A convolutional network: at least as many spatial Conv2d layers as Linear layers. Patchify convolutions
    (kernel = stride, a ViT's patch embedding) do not count, so ViTs, SAM's encoder (two neck convolutions)
    and ConvNeXt (its pointwise layers are Linear) are not conv nets here; ResNets are."""
    import torch

    convs = linears = 0
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            if tuple(m.kernel_size) != tuple(m.stride):
                convs += 1
        elif isinstance(m, torch.nn.Linear):
            linears += 1
    return convs > 0 and convs >= linears


def prepare_model(model, device):
    """``model`` on ``device``; on CUDA a conv net is also switched to channels-last memory format (cuDNN's
    fast path for convolutions, NHWC). Returns the model."""
    import torch

    model = model.to(device)
    net = _module(model)
    if _is_cuda(device) and is_conv_net(net):
        net.to(memory_format=torch.channels_last)
        setattr(net, CHANNELS_LAST_FLAG, True)
    elif getattr(net, CHANNELS_LAST_FLAG, False):
        setattr(net, CHANNELS_LAST_FLAG, False)
    return model


def uses_channels_last(model) -> bool:
    return bool(getattr(_module(model), CHANNELS_LAST_FLAG, False))


def to_device(x, device, model=None):
    """A host tensor on ``device``. On CUDA it is copied from pinned (page-locked) memory with
    ``non_blocking=True``, so the copy overlaps with queued GPU work, and given the channels-last layout when
    ``prepare_model`` switched ``model`` to it. Elsewhere it is moved as it is."""
    import torch

    if not _is_cuda(device):
        return x.to(device)
    if not x.is_pinned():
        x = x.pin_memory()
    x = x.to(device, non_blocking=True)
    if x.ndim == 4 and model is not None and uses_channels_last(model):
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, (oom, torch.cuda.OutOfMemoryError)) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def batched(fn, items, batch_size: int, device: str, log=None):
    """``[fn(items[i:i + b]) …]`` over consecutive slices; on out-of-memory the batch size is halved and the
    failed slice retried (the smaller size is kept for the rest). Returns (outputs, final batch size). When a
    single item does not fit, raises DeviceOutOfMemory saying what to do."""
    import torch

    out, i, bs = [], 0, max(1, int(batch_size))
    while i < len(items):
        chunk = items[i:i + bs]
        try:
            out.append(fn(chunk))
            i += len(chunk)
            continue
        except Exception as e:  # noqa: BLE001 - only out-of-memory is handled; the rest is re-raised as it was
            if not _is_oom(e):
                raise
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        # the exception and its frames (holding the failed batch's tensors) are gone here, so the cache can
        # actually give that memory back
        if _is_cuda(device) and torch.cuda.is_available():
            torch.cuda.empty_cache()
        if bs == 1:
            raise DeviceOutOfMemory(f"out of memory on {device} even at batch size 1 ({msg}); run on a device "
                                    "with more memory, or with --device cpu")
        bs = max(1, bs // 2)
        if log:
            log(f"out of memory on {device}: batch size halved to {bs}")
    return out, bs
