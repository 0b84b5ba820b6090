"""Evaluation data in its real file formats, pointed to by ``--data`` (nothing is downloaded):

- MedMNIST ``.npz``: arrays ``train_images``, ``train_labels``, ``val_…``, ``test_…`` (images N×H×W or N×H×W×C,
  labels N×1 or N×L);
- image files + a CSV with columns ``image`` (relative path) and ``label`` (and optionally ``split``);
- NIfTI folders ``imagesTr/*.nii.gz`` and ``labelsTr/*.nii.gz`` (matched by name), read with nibabel.

Every loader returns the arrays and a fingerprint: the sha256 over the files used, in sorted order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DataError(Exception):
    pass


@dataclass
class Split:
    images: np.ndarray   # N×H×W×C uint8 or float
    labels: np.ndarray   # N (class index) or N×H×W (masks)
    fingerprint: str
    source: str


def _fingerprint(paths) -> str:
    h = hashlib.sha256()
    for p in sorted(map(str, paths)):
        h.update(Path(p).name.encode())
        with open(p, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
    return h.hexdigest()


def medmnist(path: Path, split: str) -> Split:
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.glob("*.npz"))
    if not files:
        raise DataError(f"{path}: no MedMNIST .npz file")
    with np.load(files[0]) as z:
        key = f"{split}_images"
        if key not in z:
            raise DataError(f"{files[0]}: no array {key!r} (has {', '.join(sorted(z.files))})")
        x, y = z[key], z[f"{split}_labels"]
    if x.ndim == 3:
        x = x[..., None]
    y = y.reshape(len(y), -1)
    y = y[:, 0] if y.shape[1] == 1 else y
    return Split(x, y, _fingerprint(files), f"medmnist:{files[0].name}:{split}")


def image_csv(root: Path, split: str | None = None) -> Split:
    import csv

    from PIL import Image

    root = Path(root)
    table = root / "labels.csv"
    if not table.exists():
        raise DataError(f"{root}: expected labels.csv with columns image,label")
    rows = list(csv.DictReader(table.open()))
    if split and rows and "split" in rows[0]:
        rows = [r for r in rows if r["split"] == split]
    paths = [root / r["image"] for r in rows]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise DataError(f"{missing[0]}: listed in labels.csv but missing")
    imgs = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    labels = np.array([int(r["label"]) for r in rows])
    return Split(imgs, labels, _fingerprint(paths + [table]), f"images:{root.name}")


def nifti_folder(root: Path) -> Split:
    import nibabel as nib

    root = Path(root)
    imgs = sorted((root / "imagesTr").glob("*.nii*"))
    if not imgs:
        raise DataError(f"{root}: expected imagesTr/*.nii.gz and labelsTr/*.nii.gz")
    xs, ys, used = [], [], []
    for p in imgs:
        lab = root / "labelsTr" / p.name.replace("_0000", "")
        if not lab.exists():
            raise DataError(f"{p.name}: no label volume {lab.name} in labelsTr")
        xs.append(np.asarray(nib.load(str(p)).dataobj))
        ys.append(np.asarray(nib.load(str(lab)).dataobj))
        used += [p, lab]
    # slices along the last axis become 2-D cases
    x = np.concatenate([v.transpose(2, 0, 1) for v in xs])[..., None]
    y = np.concatenate([v.transpose(2, 0, 1) for v in ys])
    return Split(x, y, _fingerprint(used), f"nifti:{root.name}")


def load_split(data: Path, split: str = "test") -> Split:
    data = Path(data)
    if not data.exists():
        raise DataError(f"{data}: no such file or directory (--data points at data you obtained under its licence)")
    if data.suffix == ".npz" or (data.is_dir() and any(data.glob("*.npz"))):
        return medmnist(data, split)
    if (data / "labels.csv").exists():
        return image_csv(data, split)
    if (data / "imagesTr").is_dir():
        return nifti_folder(data)
    raise DataError(f"{data}: not a MedMNIST .npz, an image folder with labels.csv, or a NIfTI imagesTr/labelsTr folder")
