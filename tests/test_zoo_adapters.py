"""The open_clip and timm adapters on real checkpoints saved by those libraries (tests/zoo_fixtures.py), the
errors a user meets (a missing library, a library that fails, a format the catalog misstates), and the GPU
path's parts that a CPU can check: bf16 autocast only where the device has it, channels-last only for conv
nets, out-of-memory back-off (injected) down to a clear error at batch size 1."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import torch

import zoo_fixtures as Z
from fmreview.zoo.loading import LoadError, detect_format, load_model
from fmreview.zoo.recipes import features, knn, zero_shot_classification


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {"timm": Z.timm_vit(root / "timm"), "resnet": Z.timm_resnet(root / "resnet"),
            "open_clip": Z.open_clip_model(root / "open_clip"),
            "open_clip_simple": Z.open_clip_model(root / "open_clip_simple", tokenizer="simple",
                                                  safe_serialization=False),
            "vit": Z.vit(root / "vit")}


# ----------------------------------------------------------------------------------------------- adapters
def test_open_clip_adapter(saved):
    """open_clip's own local-dir: loader: the normalisation it saved, its tokenizer, image and text towers."""
    net = load_model(saved["open_clip"], "open_clip")
    cfg = Z.config(saved["open_clip"], "open_clip_config.json")
    assert net.preprocessing == {"size": 32, "mean": tuple(cfg["preprocess_cfg"]["mean"]),
                                 "std": tuple(cfg["preprocess_cfg"]["std"])}
    assert net.config.image_size == 32 and net.has_text
    x, _ = Z.colour_images(2, 32)
    f = features(net, x, batch_size=4, device="cpu", **net.preprocessing)
    assert f.shape == (6, 16)  # embed_dim of the tiny model: the projected image embedding
    t = net.text_features(["a photo of the red", "blue"], "cpu")
    assert t.shape == (2, 16) and not torch.allclose(t[0], t[1])


def test_open_clip_pickle_only_checkpoint_with_its_bundled_tokenizer(saved):
    """A folder with only open_clip_pytorch_model.bin loads through torch.load(weights_only=True); a config
    that names no HF tokenizer gets open_clip's bundled BPE (OpenAI/LAION repos' layout)."""
    d = saved["open_clip_simple"]
    assert not list(d.glob("*.safetensors")) and (d / "open_clip_pytorch_model.bin").is_file()
    net = load_model(d, None)
    x, _ = Z.colour_images(1, 32)
    prob = zero_shot_classification(net, None, x, ["red", "green", "blue"], ["a photo of a {}."], batch_size=3,
                                    device="cpu", **net.preprocessing)
    assert prob.shape == (3, 3) and np.allclose(prob.sum(1), 1)


def test_timm_adapter_removes_the_classifier(saved):
    """timm's local-dir: loader with num_classes=0: pooled features (width 32), not the saved 3-class head."""
    assert Z.config(saved["timm"])["num_classes"] == 3
    net = load_model(saved["timm"], "timm")
    assert net.module.num_classes == 0 and not net.has_text
    assert net.preprocessing == {"size": 32, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    x, y = Z.colour_images(3, 32)
    f = features(net, x, batch_size=4, device="cpu", **net.preprocessing)
    assert f.shape == (9, 32)
    classes, prob = knn(f, y, f, k=3)
    assert (classes[prob.argmax(1)] == y).all()
    with pytest.raises(LoadError, match="no text encoder"):
        net.text_features(["red"], "cpu")


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


def test_unstated_format_is_read_from_the_files(saved, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    assert [detect_format(saved[k]) for k in ("open_clip", "timm", "vit")] == ["open_clip", "timm", "transformers"]
    assert detect_format(bare) == "transformers"


# ------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("fmt,module,pip_name", [("open_clip", "open_clip", "open_clip_torch"), ("timm", "timm", "timm")])
def test_adapter_without_its_library_says_what_to_install(monkeypatch, saved, fmt, module, pip_name):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(LoadError, match=f"pip install {pip_name}.*fmreview\\[zoo\\]"):
        load_model(saved[fmt], fmt)


def test_missing_library_through_the_cli_is_one_clear_line(monkeypatch, saved, tmp_path, capsys):
    from fmreview.reports.cli import main

    cat = Z.catalog(tmp_path / "catalog", "oc", "open_clip", "vision-language")
    data = Z.colour_npz(tmp_path / "c.npz", 3, 3)
    monkeypatch.setitem(sys.modules, "open_clip", None)
    rc = main(["zoo", "verify", "oc", "--catalog", str(cat), "--checkpoint", f"local-dir:{saved['open_clip']}",
               "--data", str(data), "--records", str(tmp_path / "rec"), "--result", "oc-probe", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "pip install open_clip_torch" in err and "Traceback" not in err
    assert not (tmp_path / "rec").exists() or not list((tmp_path / "rec").iterdir())


def _copy(src, dst, drop=()):
    dst.mkdir()
    for p in src.iterdir():
        if p.name not in drop:
            (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_library_failures_are_load_errors(saved, tmp_path):
    """What the library raises on a broken folder comes back as a LoadError naming the folder and the cause."""
    no_weights = _copy(saved["timm"], tmp_path / "timm", drop=("model.safetensors",))
    with pytest.raises(LoadError, match=r"timm could not load .*timm"):
        load_model(no_weights, "timm")
    bad_cfg = _copy(saved["open_clip"], tmp_path / "oc")
    cfg = json.loads((bad_cfg / "open_clip_config.json").read_text())
    cfg["model_cfg"]["vision_cfg"]["width"] = 48  # no longer the saved tensors' shape
    (bad_cfg / "open_clip_config.json").write_text(json.dumps(cfg))
    with pytest.raises(LoadError, match=r"open_clip could not load .*oc \(RuntimeError"):
        load_model(bad_cfg, "open_clip")
    truncated = _copy(saved["vit"], tmp_path / "vit")
    (truncated / "model.safetensors").write_bytes((truncated / "model.safetensors").read_bytes()[:100])
    with pytest.raises(LoadError, match=r"transformers could not load the weights in .*vit"):
        load_model(truncated, "transformers")
    with pytest.raises(LoadError, match="no such checkpoint folder"):
        load_model(tmp_path / "nowhere", "timm")


@pytest.mark.parametrize("stated,held", [("transformers", "timm"), ("open_clip", "vit"), ("timm", "open_clip")])
def test_a_misstated_format_is_named(saved, stated, held):
    found = {"timm": "timm", "vit": "transformers", "open_clip": "open_clip"}[held]
    with pytest.raises(LoadError, match=f"the catalog says format {stated}, but the folder holds a {found} "
                                        "checkpoint.*correct the checkpoint's format"):
        load_model(saved[held], stated)


def test_a_folder_in_two_layouts_loads_as_stated(saved, tmp_path):
    """Hub repos that ship both open_clip and transformers files (LAION's) load as whichever is stated."""
    both = _copy(saved["open_clip"], tmp_path / "both")
    for p in saved["vit"].iterdir():
        (both / p.name).write_bytes(p.read_bytes())
    assert type(load_model(both, "transformers")).__name__ == "ViTModel"
    assert type(load_model(both, "open_clip")).__name__ == "Adapter"


# --------------------------------------------------------------------------------------------- GPU path
def test_bf16_autocast_only_where_the_device_has_it(monkeypatch):
    from fmreview.zoo import device as D

    assert D.precision("cpu") == "fp32" and not D.bf16_supported("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)  # a V100
    assert D.precision("cuda") == "fp32" and D.precision("cuda:1") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # Ampere and newer
    assert D.precision("cuda:0") == "bf16-autocast" and D.precision("cpu") == "fp32"
    ctx = D.autocast("cuda")
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16 and ctx.device == "cuda"


def test_channels_last_only_for_conv_nets(saved, tmp_path):
    from fmreview.zoo.device import is_conv_net, prepare_model, to_device, uses_channels_last

    nets = {k: load_model(saved[k], None) for k in ("resnet", "timm", "open_clip", "vit")}
    nets["sam"] = load_model(Z.sam(tmp_path / "sam"), "transformers")
    assert {k: is_conv_net(getattr(n, "module", n)) for k, n in nets.items()} == \
        {"resnet": True, "timm": False, "open_clip": False, "vit": False, "sam": False}
    # on the CPU nothing changes layout, and tensors move as they are
    net = prepare_model(nets["resnet"], "cpu")
    assert not uses_channels_last(net)
    x = torch.rand(2, 3, 8, 8)
    assert to_device(x, "cpu", net) is x


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (the CPU-side checks are above)")
def test_cuda_path_end_to_end(saved):
    """On a GPU: the conv net's weights and inputs are channels-last, inputs come from pinned memory, and
    features equal the CPU's within bf16 rounding."""
    from fmreview.zoo.device import prepare_model, to_device, uses_channels_last

    x, _ = Z.colour_images(2, 32)
    net = load_model(saved["resnet"], None)
    cpu = features(net, x, batch_size=4, device="cpu", **net.preprocessing)
    gpu = features(net, x, batch_size=4, device="cuda", **net.preprocessing)
    assert uses_channels_last(net)
    w = next(m.weight for m in net.module.modules() if isinstance(m, torch.nn.Conv2d))
    assert w.is_cuda and w.is_contiguous(memory_format=torch.channels_last)
    t = to_device(torch.rand(2, 3, 8, 8), "cuda", prepare_model(net, "cuda"))
    assert t.is_cuda and t.is_contiguous(memory_format=torch.channels_last)
    assert np.allclose(gpu, cpu, rtol=0.05, atol=0.05)


class _OOMAbove:
    """Wraps a forward pass: CUDA out-of-memory for batches larger than ``limit`` (``limit`` 0: always)."""

    def __init__(self, forward, limit):
        self.forward, self.limit, self.sizes = forward, limit, []

    def __call__(self, x, *a, **k):
        self.sizes.append(len(x))
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return self.forward(x, *a, **k)


def test_injected_oom_halves_the_batch_and_keeps_every_image(saved):
    net = load_model(saved["timm"], "timm")
    x, _ = Z.colour_images(3, 32)  # 9 images
    ref = features(net, x, batch_size=9, device="cpu", **net.preprocessing)
    oom = _OOMAbove(net.module.forward, limit=2)
    net.module.forward = oom
    log = []
    got = features(net, x, batch_size=8, device="cpu", log=log.append, **net.preprocessing)
    assert oom.sizes == [8, 4, 2, 2, 2, 2, 1] and np.allclose(got, ref, atol=1e-5)
    assert log == ["out of memory on cpu: batch size halved to 4", "out of memory on cpu: batch size halved to 2"]


def test_oom_at_batch_one_is_a_clear_error(saved, tmp_path, monkeypatch, capsys):
    from fmreview.zoo import device as D
    from fmreview.zoo import verify as V

    net = load_model(saved["timm"], "timm")
    oom = _OOMAbove(net.module.forward, limit=0)
    net.module.forward = oom
    x, _ = Z.colour_images(1, 32)
    with pytest.raises(D.DeviceOutOfMemory, match="even at batch size 1 .*Tried to allocate.*--device cpu"):
        features(net, x, batch_size=4, device="cpu", **net.preprocessing)
    assert oom.sizes == [3, 2, 1]
    # other errors are not taken for out-of-memory
    net.module.forward = lambda x: (_ for _ in ()).throw(ValueError("shape mismatch"))
    with pytest.raises(ValueError, match="shape mismatch"):
        features(net, x, batch_size=4, device="cpu", **net.preprocessing)

    # through the CLI: exit code 1, one line saying what to do, no traceback, no record
    from fmreview.reports.cli import main

    real = V.load_model

    def load_oom(*a, **k):
        m = real(*a, **k)
        m.module.forward = _OOMAbove(m.module.forward, limit=0)
        return m

    monkeypatch.setattr(V, "load_model", load_oom)
    cat = Z.catalog(tmp_path / "catalog", "tv", "timm", "vision-only")
    rec = tmp_path / "rec"
    rc = main(["zoo", "verify", "tv", "--catalog", str(cat), "--checkpoint", f"local-dir:{saved['timm']}",
               "--data", str(Z.colour_npz(tmp_path / "c.npz", 3, 3)), "--records", str(rec), "--result",
               "tv-probe", "--batch-size", "4", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "out of memory on cpu even at batch size 1" in err and "Traceback" not in err
    assert not rec.exists() or not list(rec.iterdir())
