"""Images/s of a ViT-B/16 image encoder (timm ``vit_base_patch16_224``, random init: speed does not depend on
the values, and nothing is downloaded) in the zoo's evaluation loop, at several batch sizes; on a GPU also its
fraction of the GPU's dense bf16 FLOP bound.

Usage: python benchmarks/bench_zoo.py [--device cpu|cuda] [--images N] [--batch-sizes 1,8,32]
                                      [--peak-tflops T] [--json]

Two rates per batch size:
- ``zoo loop``: fmreview.zoo.recipes.features on uint8 224×224 images, i.e. what ``zoo verify`` pays per image:
  preprocessing on the host, the pinned non-blocking copy, bf16 autocast where the device has it (channels-last
  does not apply: a ViT is not a conv net), the forward pass and the copy of the features back;
- ``forward``: the encoder alone on a batch already on the device, under the same autocast.

FLOPs per image are counted by torch.utils.flop_counter on one forward pass (a multiply-add is 2 FLOPs, as
GPU peak figures count them; papers quoting "17.6 GFLOPs" for ViT-B/16 at 224 px count multiply-adds). The
fraction of the bound is images/s × FLOPs per image / peak. Peaks (dense bf16 tensor-core TFLOP/s) come from
``PEAK_BF16_TFLOPS``, matched on the device name; ``--peak-tflops`` overrides it, and the output says which.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from fmreview.zoo.device import autocast, pick_device, precision, prepare_model, to_device
from fmreview.zoo.loading import Adapter
from fmreview.zoo.recipes import features

# dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, as stated in the issue that asked for this benchmark
# (NVIDIA's H100/H200 SXM and A100 figures); first match on the device name wins, so the more specific first
PEAK_BF16_TFLOPS = [
    ("H200", 989.0, "H200 SXM, dense bf16"),
    ("H100", 989.0, "H100 SXM, dense bf16 (a PCIe or NVL card peaks lower: pass --peak-tflops)"),
    ("A100", 312.0, "A100, dense bf16"),
]


def peak_for(name: str, override: float | None):
    if override:
        return override, "--peak-tflops"
    for key, tflops, what in PEAK_BF16_TFLOPS:
        if key.lower() in name.lower():
            return tflops, what
    return None, f"no peak known for {name!r}; pass --peak-tflops"


def vit_b16():
    import timm

    torch.manual_seed(0)
    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0).eval()
    cfg = model.pretrained_cfg
    return Adapter(model, size=224, mean=cfg["mean"], std=cfg["std"], image_fn=lambda x: model(x))


def flops_per_image(net) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, 224, 224)
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        net.module(x)
    return float(fc.get_total_flops())


def _timed(fn, sync):
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--images", type=int, default=None, help="images per measurement (default: 8 on CPU, 1024 on GPU)")
    ap.add_argument("--batch-sizes", default=None, help="comma-separated (default: 1,8 on CPU, 1,32,128,256 on GPU)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="the device's dense bf16 peak, TFLOP/s")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()
    dev = pick_device(args.device)
    cuda = dev.startswith("cuda")
    n = args.images or (1024 if cuda else 8)
    sizes = [int(b) for b in (args.batch_sizes or ("1,32,128,256" if cuda else "1,8")).split(",")]
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    net = vit_b16()
    params = sum(p.numel() for p in net.module.parameters())
    fpi = flops_per_image(net)
    name = torch.cuda.get_device_name(0) if cuda else f"CPU, {torch.get_num_threads()} torch threads"
    peak, peak_src = peak_for(name, args.peak_tflops) if cuda else (None, "no GPU: no FLOP bound")
    imgs = np.random.default_rng(0).integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    prepare_model(net, dev)
    rows = []
    for bs in sizes:
        features(net, imgs[:bs], batch_size=bs, device=dev)  # warm-up (kernels, allocator)
        dt_loop = _timed(lambda: features(net, imgs, batch_size=bs, device=dev), sync)
        x = to_device(torch.randn(bs, 3, 224, 224), dev, net)
        reps = max(1, n // bs)

        def fwd():
            with torch.inference_mode(), autocast(dev):
                for _ in range(reps):
                    net.module(x)

        fwd()
        dt_fwd = _timed(fwd, sync)
        row = {"batch": bs, "zoo_loop_images_per_s": n / dt_loop, "forward_images_per_s": reps * bs / dt_fwd}
        if peak:
            row["forward_fraction_of_peak"] = row["forward_images_per_s"] * fpi / (peak * 1e12)
            row["zoo_loop_fraction_of_peak"] = row["zoo_loop_images_per_s"] * fpi / (peak * 1e12)
        rows.append(row)

    head = {"model": "timm vit_base_patch16_224 (random init)", "parameters": params,
            "gflops_per_image": fpi / 1e9, "device": name, "precision": precision(dev), "images": n,
            "peak_bf16_tflops": peak, "peak_source": peak_src}
    if args.json:
        print(json.dumps({**head, "rows": rows}, indent=2))
        return
    print(f"{head['model']}: {params / 1e6:.1f}M parameters, {fpi / 1e9:.1f} GFLOPs per 224 px image "
          f"(forward, 2 FLOPs per multiply-add)")
    print(f"device: {name}; {precision(dev)}; {n} images per measurement; peak: "
          + (f"{peak:.0f} TFLOP/s ({peak_src})" if peak else peak_src))
    for r in rows:
        line = (f"batch {r['batch']:>4}: zoo loop {r['zoo_loop_images_per_s']:9.1f} images/s, "
                f"forward {r['forward_images_per_s']:9.1f} images/s")
        if peak:
            line += (f"  ({100 * r['zoo_loop_fraction_of_peak']:.1f} % / {100 * r['forward_fraction_of_peak']:.1f} % "
                     "of the bf16 bound)")
        print(line)


if __name__ == "__main__":
    main()
