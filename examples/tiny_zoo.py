"""A self-contained zoo demo: a tiny ViT checkpoint (transformers save_pretrained, safetensors), a synthetic
two-class dataset in MedMNIST's .npz layout, and a small catalog whose result the run can check.

    python examples/tiny_zoo.py DIR
    fmreview zoo verify tinyvit --catalog DIR/catalog --checkpoint local-dir:DIR/tinyvit \\
        --data DIR/synthmnist.npz --records DIR/records

The data are synthetic (dark vs bright images): this demonstrates the machinery, not a medical result.
"""

from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path

import numpy as np


def tiny_vit(directory: Path) -> dict[str, bytes]:
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32,
                    patch_size=8, num_channels=3)
    directory.mkdir(parents=True, exist_ok=True)
    ViTModel(cfg, add_pooling_layer=False).save_pretrained(directory, safe_serialization=True)
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def synthetic_medmnist(path: Path, n_train: int = 60, n_test: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)

    def make(n):
        y = np.arange(n) % 2
        x = (rng.integers(0, 60, (n, 16, 16)) + 150 * y[:, None, None]).astype(np.uint8)
        return x, y.reshape(-1, 1)

    (xtr, ytr), (xva, yva), (xte, yte) = make(n_train), make(10), make(n_test)
    np.savez(path, train_images=xtr, train_labels=ytr, val_images=xva, val_labels=yva, test_images=xte,
             test_labels=yte)
    return path


def catalog(root: Path, files: dict[str, bytes], repo_id: str = "demo/tinyvit") -> Path:
    listing = "\n".join(f"  - path: {n}\n    sha256: {hashlib.sha256(b).hexdigest()}" for n, b in sorted(files.items()))
    docs = {
        "papers/demo-2024.yaml": """
            id: demo-2024
            title: A synthetic demonstration of fmreview's zoo
            authors: [fmreview]
            year: 2024
            url: https://example.org/demo
            kind: benchmark
        """,
        "models/tinyvit.yaml": f"""
            id: tinyvit
            name: Tiny ViT (demo)
            paper: demo-2024
            year: 2024
            family: vision-only
            band: general
            model_group: vision-fm
            modalities: [pathology]
            tasks: [classification]
            checkpoints:
            - hub: huggingface
              repo_id: {repo_id}
              format: transformers
              files:
            LISTING
            sources:
            - url: https://example.org/demo
              locator: demo
        """,
        "datasets/synthmnist.yaml": """
            id: synthmnist
            name: Synthetic MedMNIST-layout data (demo)
            modalities: [pathology]
            tasks: [classification]
            sources:
            - url: https://example.org/demo
              locator: demo
        """,
        "results/demo-2024.yaml": """
            source:
              paper: demo-2024
              url: https://example.org/demo
            results:
            - id: tinyvit-probe-ok
              model: tinyvit
              dataset: synthmnist
              task: classification
              metric: balanced-accuracy
              value: 100
              unit: percent
              setting: linear-probe
              protocol:
                head: {kind: logistic-regression}
              locator: demo
            - id: tinyvit-probe-wrong
              model: tinyvit
              dataset: synthmnist
              task: classification
              metric: balanced-accuracy
              value: 0.6
              unit: fraction
              setting: linear-probe
              protocol:
                head: {kind: logistic-regression}
              condition: a deliberately wrong value, to show a check that fails
              locator: demo
        """,
    }
    for rel, text in docs.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip().replace("LISTING", listing), encoding="utf-8")
    return root


def build(directory: Path) -> None:
    files = tiny_vit(directory / "tinyvit")
    synthetic_medmnist(directory / "synthmnist.npz")
    catalog(directory / "catalog", files)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-zoo")
    build(out)
    print(f"wrote {out}/tinyvit, {out}/synthmnist.npz and {out}/catalog")
