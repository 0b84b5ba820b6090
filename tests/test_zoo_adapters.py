"""The open_clip and timm adapters, against stand-ins for the two libraries.

Both libraries need torchvision, which has no CPU build on the CI machine, so these tests check our side of the
contract: which entry points we call (``local-dir:`` loading, weights_only, classifier removed), that the
checkpoint's own normalisation reaches the recipes, and that features and zero-shot scores flow through the
same recipes as transformers models. The stand-ins implement just the calls the adapters make, with the
signatures of open_clip_torch 3.3 and timm 1.0.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")


class _TinyTower(torch.nn.Module):
    """Mean colour of the image -> a 3-d embedding (so the expected answer is known)."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


def _fake_open_clip(calls: list):
    class Visual(torch.nn.Module):
        preprocess_cfg = {"size": (32, 32), "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.visual = Visual()
            self.tower = _TinyTower()

        def encode_image(self, x):
            return self.tower(x)

        def encode_text(self, tokens):
            # token 1 = "red", 2 = "green", 3 = "blue": the embedding is that colour's axis
            return torch.nn.functional.one_hot(tokens[:, 0] - 1, 3).float()

    def create_model_from_pretrained(name, *, return_transform=True, weights_only=True, **kw):
        calls.append(("model", name, return_transform, weights_only))
        return Model()

    def get_tokenizer(name, **kw):
        calls.append(("tokenizer", name))
        words = {"red": 1, "green": 2, "blue": 3}
        return lambda texts: torch.tensor([[next(v for w, v in words.items() if w in t)] for t in texts])

    return types.SimpleNamespace(create_model_from_pretrained=create_model_from_pretrained,
                                 get_tokenizer=get_tokenizer)


def _fake_timm(calls: list):
    class Model(torch.nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.num_classes = num_classes
            self.tower = _TinyTower()

        def forward(self, x):
            return self.tower(x)

    def create_model(name, pretrained=False, num_classes=None, **kw):
        calls.append(("model", name, pretrained, num_classes))
        return Model(num_classes)

    def resolve_model_data_config(model):
        return {"input_size": (3, 24, 24), "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0), "crop_pct": 1.0}

    data = types.SimpleNamespace(resolve_model_data_config=resolve_model_data_config)
    return types.SimpleNamespace(create_model=create_model, data=data), data


def _colour_images(n_per_class=4, size=16):
    """Pure red, green and blue images (uint8 N x H x W x 3) and their labels 0, 1, 2."""
    imgs, labels = [], []
    for c in range(3):
        for _ in range(n_per_class):
            im = np.zeros((size, size, 3), np.uint8)
            im[..., c] = 255
            imgs.append(im)
            labels.append(c)
    return np.stack(imgs), np.array(labels)


def test_open_clip_adapter_loads_locally_and_classifies(monkeypatch, tmp_path):
    from fmreview.zoo.loading import load_model
    from fmreview.zoo.recipes import features, zero_shot_classification

    calls = []
    monkeypatch.setitem(sys.modules, "open_clip", _fake_open_clip(calls))
    net = load_model(tmp_path, "open_clip")
    assert ("model", f"local-dir:{tmp_path}", False, True) in calls
    assert ("tokenizer", f"local-dir:{tmp_path}") in calls
    assert net.preprocessing == {"size": 32, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
    assert net.config.image_size == 32

    x, y = _colour_images()
    f = features(net, x, batch_size=5, device="cpu", **net.preprocessing)
    assert f.shape == (12, 3) and (f.argmax(1) == y).all()
    prob = zero_shot_classification(net, None, x, ["red", "green", "blue"], ["a {} image", "{}"],
                                    batch_size=5, device="cpu", **net.preprocessing)
    assert prob.shape == (12, 3) and (prob.argmax(1) == y).all()


def test_timm_adapter_loads_locally_without_classifier(monkeypatch, tmp_path):
    from fmreview.zoo.loading import load_model
    from fmreview.zoo.recipes import features, knn

    calls = []
    fake, data = _fake_timm(calls)
    monkeypatch.setitem(sys.modules, "timm", fake)
    monkeypatch.setitem(sys.modules, "timm.data", data)
    net = load_model(tmp_path, "timm")
    assert calls == [("model", f"local-dir:{tmp_path}", True, 0)]
    assert net.preprocessing == {"size": 24, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
    assert not net.has_text

    x, y = _colour_images()
    f = features(net, x, batch_size=4, device="cpu", **net.preprocessing)
    classes, prob = knn(f, y, f, k=3)
    assert (classes[prob.argmax(1)] == y).all()


@pytest.mark.parametrize("fmt,module,pip_name", [("open_clip", "open_clip", "open_clip_torch"), ("timm", "timm", "timm")])
def test_adapter_without_its_library_says_what_to_install(monkeypatch, tmp_path, fmt, module, pip_name):
    from fmreview.zoo.loading import LoadError, load_model

    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(LoadError, match=f"pip install {pip_name}"):
        load_model(tmp_path, fmt)


def test_library_failure_is_a_clear_load_error(monkeypatch, tmp_path):
    from fmreview.zoo.loading import LoadError, load_model

    def broken(*a, **k):
        raise FileNotFoundError("'local-dir:' specified, but config file missing")

    monkeypatch.setitem(sys.modules, "open_clip", types.SimpleNamespace(create_model_from_pretrained=broken,
                                                                        get_tokenizer=broken))
    with pytest.raises(LoadError, match="open_clip could not load .*config file missing"):
        load_model(tmp_path, "open_clip")


def test_recipes_follow_what_the_format_can_load():
    from fmreview.zoo.registry import recipe_for

    probe = types.SimpleNamespace(setting="linear-probe", task="classification", prompt="none", metric="accuracy")
    zs = types.SimpleNamespace(setting="zero-shot", task="classification", prompt="text", metric="auc")
    seg = types.SimpleNamespace(setting="zero-shot", task="segmentation", prompt="box", metric="dice")
    assert [recipe_for(probe, "vision-only", f) for f in ("transformers", "open_clip", "timm", None)] == \
        ["linear-probe"] * 4
    assert recipe_for(probe, "vision-only", "torch") is None  # a bare state dict has no architecture
    assert recipe_for(zs, "vision-language", "open_clip") == "zero-shot-classification"
    assert recipe_for(zs, "vision-language", "timm") is None  # no text tower
    assert recipe_for(seg, "vision-only", "transformers") == "promptable-segmentation"
    assert recipe_for(seg, "vision-only", "open_clip") is None


def test_unstated_format_is_read_from_the_folder(tmp_path):
    import json

    from fmreview.zoo.loading import detect_format

    oc, tm, hf, bare = (tmp_path / n for n in ("oc", "tm", "hf", "bare"))
    for d in (oc, tm, hf, bare):
        d.mkdir()
    (oc / "open_clip_config.json").write_text(json.dumps({"model_cfg": {}, "preprocess_cfg": {}}))
    (tm / "config.json").write_text(json.dumps({"architecture": "vit_large_patch16_224", "num_classes": 0}))
    (hf / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTModel"]}))
    assert [detect_format(d) for d in (oc, tm, hf, bare)] == ["open_clip", "timm", "transformers", "transformers"]


def test_unstated_format_loads_through_the_detected_adapter(monkeypatch, tmp_path):
    import json

    from fmreview.zoo.loading import load_model

    calls = []
    fake, data = _fake_timm(calls)
    monkeypatch.setitem(sys.modules, "timm", fake)
    monkeypatch.setitem(sys.modules, "timm.data", data)
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "vit_small_patch16_224"}))
    net = load_model(tmp_path, None)
    assert calls == [("model", f"local-dir:{tmp_path}", True, 0)] and net.preprocessing["size"] == 24
