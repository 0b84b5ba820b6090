"""datasets.fingerprint gives load_split's fingerprint without decoding anything (a sweep plans with it), for each
of the three layouts; and it changes when a file of the split changes."""

from __future__ import annotations

import numpy as np
import pytest

from fmreview.zoo.datasets import DataError, fingerprint, load_split


def _npz(path):
    rng = np.random.default_rng(0)
    arrays = {f"{s}_{k}": (rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8) if k == "images"
                           else rng.integers(0, 2, (4, 1))) for s in ("train", "val", "test") for k in ("images", "labels")}
    np.savez(path, **arrays)
    return path


def _images(root):
    from PIL import Image

    root.mkdir()
    rows = ["image,label,split"]
    for i in range(6):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(root / f"{i}.png")
        rows.append(f"{i}.png,{i % 2},{'test' if i < 3 else 'train'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def _nifti(root):
    import nibabel as nib

    for sub in ("imagesTr", "labelsTr"):
        (root / sub).mkdir(parents=True)
    for i in range(2):
        vol = np.zeros((8, 8, 3), np.float32)
        vol[2:5, 2:5, :] = 1
        nib.save(nib.Nifti1Image(vol, np.eye(4)), str(root / "imagesTr" / f"case{i}_0000.nii.gz"))
        nib.save(nib.Nifti1Image(vol.astype(np.uint8), np.eye(4)), str(root / "labelsTr" / f"case{i}.nii.gz"))
    return root


@pytest.mark.parametrize("make", [lambda t: _npz(t / "d.npz"), lambda t: _images(t / "imgs"), lambda t: _nifti(t / "nii")])
def test_fingerprint_equals_load_split_and_follows_the_bytes(make, tmp_path):
    data = make(tmp_path)
    for split in ("test", "train") if data.name == "imgs" else ("test",):
        assert fingerprint(data, split) == load_split(data, split).fingerprint
    before = fingerprint(data)
    target = data if data.is_file() else sorted(p for p in data.rglob("*") if p.is_file())[0]
    target.write_bytes(target.read_bytes() + b"\0")
    assert fingerprint(data) != before


def test_fingerprint_of_no_known_layout_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not a MedMNIST .npz, an image folder"):
        fingerprint(tmp_path)
