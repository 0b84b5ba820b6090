"""Where to run, and batched inference that survives CUDA out-of-memory (halve the batch and go on)."""

from __future__ import annotations

import contextlib


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        return "cpu"  # CPU fallback; the record says which device ran
    return requested


def autocast(device: str):
    import torch

    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def batched(fn, items, batch_size: int, device: str, log=None):
    """Apply fn to slices of items; on CUDA OOM halve the batch size and retry that slice."""
    import torch

    out, i, bs = [], 0, max(1, batch_size)
    while i < len(items):
        chunk = items[i:i + bs]
        try:
            out.append(fn(chunk))
            i += len(chunk)
        except torch.cuda.OutOfMemoryError:
            if bs == 1:
                raise
            bs = max(1, bs // 2)
            if device == "cuda":
                torch.cuda.empty_cache()
            if log:
                log(f"CUDA out of memory: batch size halved to {bs}")
    return out, bs
