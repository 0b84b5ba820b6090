"""zoo errors a user can act on: unknown ids with a did-you-mean, --data checked (layout, columns, channels,
classes) before anything is downloaded or loaded, no pickle advice for a file that is not an npz, --strict."""

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from fmreview.reports.cli import main  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import tiny_zoo  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The README demo: the tiny ViT, its two-result catalog and the synthetic MedMNIST-layout data."""
    d = tmp_path_factory.mktemp("tz")
    files = tiny_zoo.tiny_vit(d / "tinyvit")
    tiny_zoo.synthetic_medmnist(d / "synthmnist.npz")
    tiny_zoo.catalog(d / "catalog", files)
    return d


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if verify gets as far as downloading or loading a model."""
    import fmreview.zoo.verify as V

    def refuse(*a, **k):
        raise AssertionError("the model was fetched or loaded before --data was checked")

    monkeypatch.setattr(V, "fetch", refuse)
    monkeypatch.setattr(V, "load_model", refuse)


def verify(demo, data, *extra, local=True):
    args = ["zoo", "verify", "tinyvit", "--catalog", str(demo / "catalog"), "--data", str(data), "--records",
            str(demo / "records"), "--device", "cpu", "--bootstrap", "50", "--quiet", "--result", "tinyvit-probe-ok"]
    if local:
        args += ["--checkpoint", f"local-dir:{demo / 'tinyvit'}"]
    return main(args + list(extra))


def err(capsys) -> str:
    e = capsys.readouterr().err
    assert "Traceback" not in e
    return e


def npz(path: Path, train=None, test=None, **arrays) -> Path:
    rng = np.random.default_rng(0)

    def make(n, shape=(16, 16), classes=2):
        y = np.arange(n) % classes
        x = (rng.integers(0, 60, (n, *shape)) + 150 * (y % 2).reshape(-1, *[1] * len(shape))).astype(np.uint8)
        return x, y.reshape(-1, 1)

    xtr, ytr = train if train is not None else make(30)
    xte, yte = test if test is not None else make(20)
    np.savez(path, train_images=xtr, train_labels=ytr, val_images=xte[:2], val_labels=yte[:2], test_images=xte,
             test_labels=yte, **arrays)
    return path


# ------------------------------------------------------------------------------------------ ids


def test_unknown_model_gets_a_did_you_mean(demo, capsys):
    for cmd in (["zoo", "verify", "tinyvitt", "--data", str(demo / "synthmnist.npz")], ["zoo", "show", "tinyvitt"]):
        assert main(cmd + ["--catalog", str(demo / "catalog")]) == 1
        assert err(capsys).strip() == ("fmreview: error: no model 'tinyvitt' in the catalog; "
                                       "did you mean 'tinyvit'?")
    assert main(["zoo", "show", "zzzzzz", "--catalog", str(demo / "catalog")]) == 1
    assert err(capsys).strip() == "fmreview: error: no model 'zzzzzz' in the catalog"


def test_unknown_result_gets_a_did_you_mean(demo, capsys, no_model):
    assert main(["zoo", "verify", "tinyvit", "--catalog", str(demo / "catalog"), "--data", str(demo / "synthmnist.npz"),
                 "--result", "tinyvit-probe-okk"]) == 1
    assert "no result 'tinyvit-probe-okk' in the catalog; did you mean 'tinyvit-probe-ok'?" in err(capsys)


def test_unknown_model_in_python_raises_lookup_error(demo):
    from fmreview.catalog import load
    from fmreview.zoo.verify import verify as run

    with pytest.raises(LookupError, match="did you mean 'tinyvit'"):
        run(load(demo / "catalog"), "TinyVit", data=demo / "synthmnist.npz")


# ------------------------------------------------------------------------------------------ --data before the model


def test_data_is_checked_before_any_download_or_model_load(demo, tmp_path, capsys, no_model):
    for local in (True, False):
        assert verify(demo, tmp_path / "nowhere.npz", local=local) == 1
        assert "nowhere.npz: no such file or directory" in err(capsys)
    (tmp_path / "empty").mkdir()
    assert verify(demo, tmp_path / "empty", local=False) == 1
    assert "not a MedMNIST .npz, an image folder with labels.csv" in err(capsys)


def test_a_file_that_is_not_an_npz_gets_no_pickle_advice(demo, tmp_path, capsys, no_model):
    text = tmp_path / "data.npz"
    text.write_text("image,label\na.png,0\n")
    npy = tmp_path / "one.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros(3))
    obj = tmp_path / "objects.npz"
    np.savez(obj, train_images=np.array([{"a": 1}], dtype=object), train_labels=np.zeros(1),
             test_images=np.array([{"a": 1}], dtype=object), test_labels=np.zeros(1))
    broken = tmp_path / "truncated.npz"
    broken.write_bytes(demo.joinpath("synthmnist.npz").read_bytes()[:200])
    objects = "an array holds Python objects, which would need pickle to load (refused)"
    for path, what in ((text, "not a zip archive"), (npy, "a single .npy array"), (obj, objects),
                       (broken, "unreadable")):
        assert verify(demo, path) == 1
        e = err(capsys)
        assert f"{path}: {what}" in e, e
        assert "expected a MedMNIST .npz (a zip of numeric arrays train_images, train_labels, val_images" in e
        assert "allow_pickle" not in e and "pickle.load" not in e and "unsafely" not in e


def test_npz_without_the_split_arrays_lists_what_it_has(demo, tmp_path, capsys, no_model):
    p = tmp_path / "other.npz"
    np.savez(p, images=np.zeros((4, 8, 8)), labels=np.zeros(4))
    assert verify(demo, p) == 1
    e = err(capsys)
    assert "no array 'train_images' or 'train_labels' (has images, labels)" in e


def image_folder(root: Path, rows: str, images: dict) -> Path:
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.csv").write_text(rows)
    for name, (mode, value) in images.items():
        Image.new(mode, (16, 16), value).save(root / name)
    return root


def test_labels_csv_with_other_columns_lists_expected_and_found(demo, tmp_path, capsys, no_model):
    d = image_folder(tmp_path / "imgs", "file,class\na.png,0\n", {"a.png": ("L", 10)})
    assert verify(demo, d) == 1
    e = err(capsys)
    assert "labels.csv:1: missing columns image, label" in e
    assert "expected columns image, label (and optionally split), found: file, class" in e


def test_labels_csv_rows_are_checked_with_their_line(demo, tmp_path, capsys, no_model):
    d = image_folder(tmp_path / "imgs", "image,label,split\na.png,0,train\nb.png,x,train\n", {"a.png": ("L", 10)})
    assert verify(demo, d) == 1
    assert "labels.csv:3: label 'x' is not an integer class index" in err(capsys)
    d = image_folder(tmp_path / "imgs2", "image,label,split\na.png,0,train\ngone.png,1,train\n", {"a.png": ("L", 0)})
    assert verify(demo, d) == 1
    assert "labels.csv:3: image 'gone.png' is missing" in err(capsys)
    d = image_folder(tmp_path / "imgs3", "image,label,split\na.png,0,training\n", {"a.png": ("L", 0)})
    assert verify(demo, d) == 1
    assert "no rows with split = train (split values found: 'training'; expected train, val, test)" in err(capsys)
    d = image_folder(tmp_path / "imgs4", "image,label\na.png,0\n", {"a.png": ("L", 0)})
    assert verify(demo, d) == 1  # a linear probe needs train rows: no silent train = test
    assert "no split column, so every row is the test split; this recipe also needs train rows" in err(capsys)


# ------------------------------------------------------------------------------------------ classes


def test_one_class_and_empty_splits_are_refused(demo, tmp_path, capsys, no_model):
    x = np.full((10, 16, 16), 7, np.uint8)
    one = npz(tmp_path / "one.npz", test=(x, np.zeros((10, 1), int)))
    assert verify(demo, one) == 1
    assert "the test split has one class only (label 0 for all 10 cases)" in err(capsys)
    empty = npz(tmp_path / "empty.npz", test=(np.zeros((0, 16, 16), np.uint8), np.zeros((0, 1), int)))
    assert verify(demo, empty) == 1
    assert "the test split is empty" in err(capsys)
    one_train = npz(tmp_path / "one-train.npz", train=(x, np.ones((10, 1), int)))
    assert verify(demo, one_train) == 1
    assert "the train split has one class only" in err(capsys)
    unseen = npz(tmp_path / "unseen.npz", test=(np.zeros((4, 16, 16), np.uint8), np.array([[0], [1], [2], [2]])))
    assert verify(demo, unseen) == 1
    assert "the test split has labels the train split never shows: 2" in err(capsys)
    multi = npz(tmp_path / "multi.npz", test=(np.zeros((4, 16, 16), np.uint8), np.eye(4, dtype=int)[:, :3]))
    assert verify(demo, multi) == 1
    assert "multi-label labels (4×3)" in err(capsys)


def test_a_limit_that_leaves_one_class_is_refused(demo, tmp_path, capsys, no_model):
    assert verify(demo, demo / "synthmnist.npz", "--limit", "1") == 1
    assert "the first 1 test cases (--limit) hold one class only" in err(capsys)


# ------------------------------------------------------------------------------------------ channels


def test_two_channel_images_get_a_clear_error(demo, tmp_path, capsys, no_model):
    rng = np.random.default_rng(1)
    two = npz(tmp_path / "two.npz", train=(rng.integers(0, 255, (6, 16, 16, 2), dtype=np.uint8), np.arange(6) % 2),
              test=(rng.integers(0, 255, (6, 16, 16, 2), dtype=np.uint8), np.arange(6) % 2))
    assert verify(demo, two) == 1
    assert f"{two}:train_images: images have 2 channels (6×16×16×2); expected 1 (grey), 3 (RGB)" in err(capsys)
    d = image_folder(tmp_path / "la", "image,label,split\na.png,0,train\nb.png,1,train\n",
                     {"a.png": ("LA", (10, 255)), "b.png": ("LA", (200, 255))})
    assert verify(demo, d) == 1
    assert f"{d / 'a.png'}: 2 channels (mode LA: L, A)" in err(capsys)


def test_grey_and_rgba_images_are_read_as_one_and_three_channels(tmp_path):
    from fmreview.zoo.datasets import load_split
    from fmreview.zoo.recipes import to_tensor

    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 255, (4, 8, 8, 4), dtype=np.uint8)
    p = npz(tmp_path / "rgba.npz", train=(rgba, np.arange(4) % 2), test=(rgba, np.arange(4) % 2))
    s = load_split(p, "test")
    assert s.images.shape == (4, 8, 8, 3) and np.array_equal(s.images, rgba[..., :3])
    grey = npz(tmp_path / "grey.npz")
    g = load_split(grey, "test").images
    assert g.shape == (20, 16, 16, 1)
    t = to_tensor(g)
    assert t.shape == (20, 3, 16, 16) and torch.equal(t[:, 0], t[:, 2])
    d = image_folder(tmp_path / "mixed", "image,label,split\na.png,0,test\nb.png,1,test\n",
                     {"a.png": ("RGBA", (255, 0, 0, 10)), "b.png": ("RGB", (0, 0, 255))})
    s = load_split(d, "test")
    assert s.images.shape == (2, 16, 16, 3) and tuple(s.images[0, 0, 0]) == (255, 0, 0)
    with pytest.raises(ValueError, match="expected N×H×W×1 or N×H×W×3"):
        to_tensor(np.zeros((2, 8, 8, 2), np.uint8))


def test_rgba_and_grey_data_verify_end_to_end(demo, tmp_path, capsys):
    with np.load(demo / "synthmnist.npz") as z:
        arrays = {k: z[k] for k in z.files}
    alpha = {k: (np.concatenate([np.repeat(v[..., None], 3, -1), np.full(v.shape + (1,), 255, np.uint8)], -1)
                 if k.endswith("images") else v) for k, v in arrays.items()}
    np.savez(tmp_path / "rgba.npz", **alpha)
    np.savez(tmp_path / "grey1.npz", **{k: v[..., None] if k.endswith("images") else v for k, v in arrays.items()})
    for name in ("rgba.npz", "grey1.npz"):
        assert verify(demo, tmp_path / name) == 0
        assert "-> REPRODUCED" in capsys.readouterr().out


def test_image_folder_verifies_end_to_end(demo, tmp_path, capsys):
    from PIL import Image

    rows = ["image,label,split"]
    d = tmp_path / "pngs"
    d.mkdir()
    with np.load(demo / "synthmnist.npz") as z:
        for split in ("train", "test"):
            for i, (x, y) in enumerate(zip(z[f"{split}_images"], z[f"{split}_labels"][:, 0])):
                Image.fromarray(x).save(d / f"{split}{i}.png")
                rows.append(f"{split}{i}.png,{y},{split}")
    (d / "labels.csv").write_text("\n".join(rows) + "\n")
    assert verify(demo, d) == 0
    assert "-> REPRODUCED" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ --strict, README


def test_strict_exits_3_unless_reproduced(demo, capsys):
    assert verify(demo, demo / "synthmnist.npz", "--strict") == 0
    assert "-> REPRODUCED" in capsys.readouterr().out
    assert verify(demo, demo / "synthmnist.npz", "--strict", "--result", "tinyvit-probe-wrong") == 3
    out = capsys.readouterr()
    assert "-> NOT REPRODUCED" in out.out
    assert "the verdict is 'not reproduced'; --strict exits 3 unless it is 'reproduced'" in out.err
    assert verify(demo, demo / "synthmnist.npz", "--strict", "--limit", "10") == 3
    assert "-> INCONCLUSIVE" in capsys.readouterr().out
    assert verify(demo, demo / "synthmnist.npz", "--result", "tinyvit-probe-wrong") == 0  # without --strict


def test_bad_numbers_are_refused_by_the_parser(demo, capsys):
    for flag, value in (("--limit", "0"), ("--batch-size", "-3"), ("--bootstrap", "x")):
        with pytest.raises(SystemExit) as e:
            verify(demo, demo / "synthmnist.npz", flag, value)
        assert e.value.code == 2
        assert f"argument {flag}" in err(capsys)


def test_readme_documents_labels_csv_and_strict():
    text = README.read_text(encoding="utf-8")
    zoo = text[text.index("## The reference zoo"):text.index("## Layout")]
    assert "`labels.csv`" in zoo and "`image`" in zoo and "`label`" in zoo and "`split`" in zoo
    assert "--strict" in zoo and "exit 3" in zoo


def test_version_and_internal_errors(capsys, monkeypatch):
    import importlib.metadata as md

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"fmreview {md.version('fmreview')}"

    import fmreview.reports.cli_zoo as Z

    def bug(args):
        return {}["missing"]

    monkeypatch.setattr(Z, "cmd_status", bug)
    monkeypatch.delenv("FMREVIEW_DEBUG", raising=False)
    assert main(["zoo", "status"]) == 2
    e = err(capsys)
    assert e.startswith("fmreview: internal error: KeyError: 'missing' at test_zoo_errors.py:")
    assert "(please report" in e
    monkeypatch.setenv("FMREVIEW_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["zoo", "status"])
