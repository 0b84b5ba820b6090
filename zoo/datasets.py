"""Evaluation data in its real file formats, pointed to by ``--data`` (nothing is downloaded):

- MedMNIST ``.npz``: arrays ``train_images``, ``train_labels``, ``val_…``, ``test_…`` (images N×H×W or N×H×W×C,
  labels N×1 or N×L), read without pickles;
- image files + ``labels.csv`` with columns ``image`` (path relative to the folder), ``label`` (integer class
  index) and optionally ``split`` (``train``, ``val`` or ``test``; without it every row is the test split);
- NIfTI folders ``imagesTr/*.nii.gz`` and ``labelsTr/*.nii.gz`` (matched by name), read with nibabel.

Images come back N×H×W×1 (grey, repeated to three channels when a model reads them) or N×H×W×3: RGBA loses
its alpha channel, and any other channel count is refused with the file it came from.

Every loader returns the arrays and a fingerprint: the sha256 over the files used, in sorted order.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")
CSV_COLUMNS = ("image", "label")  # required; "split" is optional
MEDMNIST_KEYS = tuple(f"{s}_{a}" for s in SPLITS for a in ("images", "labels"))


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


def channels_last(x: np.ndarray, where: str) -> np.ndarray:
    """Images N×H×W or N×H×W×C as N×H×W×1 or N×H×W×3 (RGBA drops alpha); other channel counts are refused."""
    if x.ndim == 3:
        return x[..., None]
    if x.ndim != 4:
        raise DataError(f"{where}: images of shape {'×'.join(map(str, x.shape))}; expected N×H×W (grey) or "
                        "N×H×W×C with C = 1, 3 or 4 (RGBA)")
    c = x.shape[-1]
    if c in (1, 3):
        return x
    if c == 4:
        return x[..., :3]
    hint = (" (3-D volumes, such as the MedMNIST 3D sets, are not read by the 2-D recipes)" if c > 4 else "")
    raise DataError(f"{where}: images have {c} channels ({'×'.join(map(str, x.shape))}); expected 1 (grey), 3 (RGB) "
                    f"or 4 (RGBA, alpha dropped){hint}")


def _npz_file(path: Path) -> Path:
    if path.is_file():
        return path
    files = sorted(path.glob("*.npz"))
    if not files:
        raise DataError(f"{path}: no MedMNIST .npz file")
    if len(files) > 1:
        raise DataError(f"{path}: several .npz files ({', '.join(f.name for f in files)}); pass the one to "
                        "evaluate as --data")
    return files[0]


_EXPECTED_NPZ = ("expected a MedMNIST .npz (a zip of numeric arrays " + ", ".join(MEDMNIST_KEYS) + ")")


def medmnist(path: Path, split: str) -> Split:
    f = _npz_file(Path(path))
    with open(f, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        what = ("a single .npy array" if magic == b"\x93NUM" else "an empty file" if not magic
                else "not a zip archive")
        hint = "; for images + labels.csv pass their folder" if f.name == "labels.csv" else ""
        raise DataError(f"{f}: {what}; {_EXPECTED_NPZ}{hint}")
    try:  # the file is opened here, so a zip numpy cannot parse is still closed
        with open(f, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            keys = (f"{split}_images", f"{split}_labels")
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise DataError(f"{f}: no array {' or '.join(map(repr, missing))} (has "
                                f"{', '.join(sorted(z.files)) or 'no arrays'}); {_EXPECTED_NPZ}")
            x, y = z[keys[0]], z[keys[1]]
    except DataError:
        raise
    except ValueError as e:  # an object array: numpy would need pickles, which the zoo never loads
        if "pickle" in str(e).lower():
            raise DataError(f"{f}: an array holds Python objects, which would need pickle to load (refused); "
                            f"{_EXPECTED_NPZ}") from None
        raise DataError(f"{f}: unreadable ({e}); {_EXPECTED_NPZ}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise DataError(f"{f}: unreadable ({e}); {_EXPECTED_NPZ}") from None
    where = f"{f}:{split}_images"
    if x.dtype.kind not in "uif" and x.dtype != bool:
        raise DataError(f"{where}: array of {x.dtype}; expected numeric images")
    x = channels_last(x, where)
    if y.dtype.kind not in "uib":
        raise DataError(f"{f}:{split}_labels: array of {y.dtype}; expected integer class indices")
    if len(y) != len(x):
        raise DataError(f"{f}: {len(x)} {split} images but {len(y)} {split} labels")
    if len(y) == 0:  # an empty split: check_classes says so
        y = y.reshape(0)
    else:
        y = y.reshape(len(y), -1)
        y = y[:, 0] if y.shape[1] == 1 else y
    return Split(x, y, _fingerprint([f]), f"medmnist:{f.name}:{split}")


def _read_image(p: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            im.load()
            bands = im.getbands()
            if im.mode == "P":  # a palette image: its colours (and transparency) are what it shows
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                bands = im.getbands()
            if len(bands) == 1:
                a = np.asarray(im)
                if a.dtype == bool:  # a bilevel image
                    a = a.astype(np.uint8) * 255
                elif a.dtype == np.uint16:  # 16-bit grey onto the 0-255 scale the recipes read
                    a = (a.astype(np.float64) / 257.0).round().astype(np.uint8)
                elif a.dtype != np.uint8:
                    raise DataError(f"{p}: {im.mode} image (one channel of {a.dtype}); expected 8- or 16-bit grey, "
                                    "RGB or RGBA")
                return a[..., None]
            if im.mode == "RGB":
                return np.asarray(im)
            if im.mode in ("RGBA", "RGBa"):
                return np.asarray(im.convert("RGBA"))[..., :3]
            if im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):  # 3-4 colour bands PIL converts exactly
                return np.asarray(im.convert("RGB"))
            raise DataError(f"{p}: {len(bands)} channels (mode {im.mode}: {', '.join(bands)}); expected 1 (grey), "
                            "3 (RGB) or 4 (RGBA, alpha dropped)")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{p}: not a readable image ({e})") from None


def read_labels_csv(table: Path) -> tuple[list[dict], bool]:
    """Rows of labels.csv (with their line numbers) and whether it has a split column."""
    import csv

    try:
        with table.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            found = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in CSV_COLUMNS if c not in found]
            if missing:
                raise DataError(f"{table}:1: missing column{'s' if len(missing) > 1 else ''} "
                                f"{', '.join(missing)}; expected columns image, label (and optionally split), "
                                f"found: {', '.join(found) or 'none (empty file)'}")
            reader.fieldnames = found
            rows = [dict(r, _line=reader.line_num) for r in reader]
    except UnicodeDecodeError as e:
        raise DataError(f"{table}: not UTF-8 text ({e})") from None
    except csv.Error as e:
        raise DataError(f"{table}: not a readable CSV ({e})") from None
    return rows, "split" in found


def image_csv(root: Path, split: str | None = None) -> Split:
    root = Path(root)
    table, labels, paths = _csv_split(root, split)
    imgs = [_read_image(p) for p in paths]
    shapes = {a.shape for a in imgs}
    if len(shapes) > 1:
        first = imgs[0].shape
        odd = next(i for i, a in enumerate(imgs) if a.shape != first)
        raise DataError(f"{paths[odd]}: {_shape(imgs[odd])}, but {paths[0].name} is {_shape(imgs[0])}; the images "
                        "of one split must share a size and channel count (resize or convert them)")
    return Split(np.stack(imgs), np.array(labels), _fingerprint(paths + [table]), f"images:{root.name}")


def _csv_split(root: Path, split: str | None) -> tuple[Path, list[int], list[Path]]:
    """labels.csv's rows of one split, checked: (the table, the labels, the image paths)."""
    table = root / "labels.csv"
    if not table.is_file():
        raise DataError(f"{root}: expected labels.csv with columns image, label (and optionally split)")
    rows, has_split = read_labels_csv(table)
    if split and has_split:
        found = sorted({(r.get("split") or "").strip() for r in rows})
        rows = [r for r in rows if (r.get("split") or "").strip() == split]
        if not rows:
            raise DataError(f"{table}: no rows with split = {split} (split values found: "
                            f"{', '.join(map(repr, found)) or 'none'}; expected train, val, test)")
    elif split and split != "test":
        raise DataError(f"{table}: no split column, so every row is the test split; this recipe also needs "
                        f"{split} rows: add a column split with values train, val, test")
    if not rows:
        raise DataError(f"{table}: no rows")
    labels = []
    for r in rows:
        v = (r.get("label") or "").strip()
        try:
            labels.append(int(v))
        except ValueError:
            raise DataError(f"{table}:{r['_line']}: label {v!r} is not an integer class index") from None
    paths = []
    for r in rows:
        name = (r.get("image") or "").strip()
        p = root / name
        if not name or not p.is_file():
            raise DataError(f"{table}:{r['_line']}: image {name!r} is missing ({p})")
        paths.append(p)
    return table, labels, paths


def _shape(a: np.ndarray) -> str:
    return f"{a.shape[1]}×{a.shape[0]} pixels, {a.shape[2]} channel{'s' if a.shape[2] > 1 else ''}"


def nifti_folder(root: Path) -> Split:
    import nibabel as nib

    root = Path(root)
    xs, ys, used = [], [], []
    for p, lab in _nifti_pairs(root):
        try:
            x, y = np.asarray(nib.load(str(p)).dataobj), np.asarray(nib.load(str(lab)).dataobj)
        except Exception as e:  # nibabel raises its own ImageFileError, EOFError, zlib errors ...
            raise DataError(f"{p.name} / {lab.name}: not a readable NIfTI pair ({type(e).__name__}: {e})") from None
        if x.ndim != 3 or x.shape != y.shape:
            raise DataError(f"{p.name}: image {'×'.join(map(str, x.shape))} and label {'×'.join(map(str, y.shape))}; "
                            "expected two 3-D volumes of the same shape")
        xs.append(x)
        ys.append(y)
        used += [p, lab]
    if len({v.shape[:2] for v in xs}) > 1:
        raise DataError(f"{root}/imagesTr: volumes differ in their in-plane size "
                        f"({', '.join(sorted({'×'.join(map(str, v.shape[:2])) for v in xs}))}); resample them to one")
    # slices along the last axis become 2-D cases
    x = np.concatenate([v.transpose(2, 0, 1) for v in xs])[..., None]
    y = np.concatenate([v.transpose(2, 0, 1) for v in ys])
    return Split(x, y, _fingerprint(used), f"nifti:{root.name}")


def _nifti_pairs(root: Path) -> list[tuple[Path, Path]]:
    """(image, label) volumes of a NIfTI folder, matched by name."""
    imgs = sorted((root / "imagesTr").glob("*.nii*"))
    if not imgs:
        raise DataError(f"{root}: expected imagesTr/*.nii.gz and labelsTr/*.nii.gz")
    pairs = []
    for p in imgs:
        lab = root / "labelsTr" / p.name.replace("_0000", "")
        if not lab.exists():
            raise DataError(f"{p.name}: no label volume {lab.name} in labelsTr")
        pairs.append((p, lab))
    return pairs


def fingerprint(data: Path, split: str = "test") -> str:
    """The fingerprint ``load_split(data, split)`` would give, from the files' bytes alone: no image is decoded
    (a sweep plans its jobs with it, and each job then reads its data once)."""
    data = Path(data)
    layout = _layout(data)
    if layout == "medmnist":
        return _fingerprint([_npz_file(data)])
    if layout == "images":
        table, _, paths = _csv_split(data, split)
        return _fingerprint(paths + [table])
    return _fingerprint([q for pair in _nifti_pairs(data) for q in pair])


def _layout(data: Path) -> str:
    if not data.exists():
        raise DataError(f"{data}: no such file or directory (--data points at data you obtained under its licence)")
    if data.is_file() or any(data.glob("*.npz")):  # the only single-file layout is MedMNIST's
        return "medmnist"
    if (data / "labels.csv").exists():
        return "images"
    if (data / "imagesTr").is_dir():
        return "nifti"
    raise DataError(f"{data}: not a MedMNIST .npz, an image folder with labels.csv, or a NIfTI imagesTr/labelsTr "
                    "folder")


def load_split(data: Path, split: str = "test") -> Split:
    data = Path(data)
    layout = _layout(data)
    if layout == "medmnist":
        return medmnist(data, split)
    if layout == "images":
        return image_csv(data, split)
    return nifti_folder(data)


def check_classes(split: Split, name: str, *, n_classes: int | None = None, known=None) -> None:
    """Refuse a classification split the metrics cannot score: empty, multi-label, one class, or labels
    outside the classes the recipe knows (``n_classes`` prompts, or the ``known`` train classes)."""
    where = f"{split.source}: the {name} split"
    if len(split.labels) == 0:
        raise DataError(f"{where} is empty")
    if split.labels.ndim != 1:
        raise DataError(f"{where} has multi-label labels ({'×'.join(map(str, split.labels.shape))}); the zoo's "
                        "recipes classify one label per image")
    classes = np.unique(split.labels)
    if len(classes) < 2:
        raise DataError(f"{where} has one class only (label {classes[0].item()!r} for all {len(split.labels)} "
                        "cases); a classification metric needs at least two classes")
    if n_classes is not None and (classes.min() < 0 or classes.max() >= n_classes):
        found = ", ".join(str(c) for c in classes.tolist())
        raise DataError(f"{where} has labels {found}, but the result's class_prompts name {n_classes}"
                        f" classes (labels 0 to {n_classes - 1}, in their order)")
    if known is not None:
        unseen = sorted(set(classes.tolist()) - set(np.asarray(known).tolist()))
        if unseen:
            raise DataError(f"{where} has labels the train split never shows: {', '.join(map(str, unseen))}")
