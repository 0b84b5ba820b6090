"""Images/s of the zoo's evaluation loop (preprocess + frozen forward pass) for a SAM-style and a CLIP-style
image encoder at small configurations, with a batch-size sweep; on GPU too when one is present.

Usage: python benchmarks/bench_zoo.py [--images 256] [--device cpu|cuda]
Random weights: speed does not depend on the values. Sizes are small so the sweep runs in a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from fmreview.zoo.device import pick_device
from fmreview.zoo.recipes import features


def encoders():
    from transformers import CLIPVisionConfig, CLIPVisionModel, SamVisionConfig, SamVisionModel

    clip = CLIPVisionModel(CLIPVisionConfig(hidden_size=256, intermediate_size=1024, num_hidden_layers=6,
                                            num_attention_heads=8, image_size=112, patch_size=16)).eval()
    sam = SamVisionModel(SamVisionConfig(hidden_size=192, intermediate_size=768, num_hidden_layers=4,
                                         num_attention_heads=6, image_size=256, patch_size=16, output_channels=64,
                                         global_attn_indexes=[1, 3], window_size=8)).eval()
    return {"CLIP-style ViT (6x256, 112 px)": (clip, 112), "SAM-style ViT (4x192, 256 px, windowed)": (sam, 256)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    dev = pick_device(args.device)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    imgs = np.random.default_rng(0).integers(0, 255, (args.images, 64, 64, 3), dtype=np.uint8)
    print(f"device: {dev}, torch threads: {torch.get_num_threads()}, images: {args.images}")
    for name, (model, size) in encoders().items():
        params = sum(p.numel() for p in model.parameters()) / 1e6
        for bs in (1, 8, 32, 64):
            features(model, imgs[:bs], batch_size=bs, device=dev, size=size)  # warm-up
            t = time.perf_counter()
            features(model, imgs, batch_size=bs, device=dev, size=size)
            dt = time.perf_counter() - t
            print(f"{name:<42} {params:5.1f}M params  batch {bs:>3}: {args.images / dt:8.1f} images/s")


if __name__ == "__main__":
    main()
