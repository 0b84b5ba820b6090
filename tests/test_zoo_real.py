"""Real checkpoints through the zoo: each saved by its own library (tests/zoo_fixtures.py: timm save_for_hf,
open_clip's hub export, transformers save_pretrained for ViT, DINOv2, CLIP, SigLIP and SAM), loaded with the
stated format and by detection, run through every recipe that fits it on data whose answer is known, checked
against the library's own inference, and verified end to end by ``fmreview zoo verify``."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch

import zoo_fixtures as Z
from fmreview.reports.cli import main
from fmreview.zoo import metrics as M
from fmreview.zoo.loading import detect_format, load_model
from fmreview.zoo.recipes import (box_from_mask, features, knn, linear_probe, promptable_segmentation,
                                  zero_shot_classification)
from fmreview.zoo.registry import RECIPES, recipe_for

ENCODERS = [n for n in Z.CHECKPOINTS if n != "sam"]
VISION_LANGUAGE = {"clip", "siglip", "open_clip_model"}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """Every fixture checkpoint, saved once for the module: name -> folder."""
    root = tmp_path_factory.mktemp("ckpt")
    return {name: fn(root / name) for name, (fn, _, _) in Z.CHECKPOINTS.items()}


@pytest.fixture(scope="module")
def colours():
    (xtr, ytr), (xte, yte) = Z.colour_images(5, 32, seed=1), Z.colour_images(4, 32, seed=2)
    return xtr, ytr, xte, yte


def _kw(net):
    return dict(getattr(net, "preprocessing", {}))


def test_fixture_recipes_are_what_the_registry_offers():
    """The recipes each checkpoint is run through below are those recipe_for offers for its format and model
    family, less promptable segmentation for encoders without a prompt decoder (the registry goes by the
    catalog result and format, and cannot see that a transformers checkpoint is not SAM)."""
    results = {
        "linear-probe": types.SimpleNamespace(setting="linear-probe", task="classification", prompt="none",
                                              metric="balanced-accuracy"),
        "knn": types.SimpleNamespace(setting="knn", task="classification", prompt="none", metric="accuracy"),
        "zero-shot-classification": types.SimpleNamespace(setting="zero-shot", task="classification",
                                                          prompt="text", metric="accuracy"),
        "promptable-segmentation": types.SimpleNamespace(setting="zero-shot", task="segmentation", prompt="box",
                                                         metric="dice"),
    }
    assert set(results) == set(RECIPES)
    for name, (_, fmt, recipes) in Z.CHECKPOINTS.items():
        family = "vision-language" if name in VISION_LANGUAGE else "vision-only"
        offered = {rc for rc, r in results.items() if recipe_for(r, family, fmt)}
        if name == "sam":
            assert "promptable-segmentation" in offered and recipes == ("promptable-segmentation",)
        else:
            assert offered - {"promptable-segmentation"} == set(recipes), name


@pytest.mark.parametrize("name", list(Z.CHECKPOINTS))
def test_loaded_with_the_stated_format_and_by_detection(ckpt, colours, name):
    """Both loads hold the weights the library wrote: loaded under different seeds, they give the same outputs
    (a load that initialised anything it uses at random would not). The fixtures are deterministic: saving
    again writes weights that give the same features."""
    fn, fmt, _ = Z.CHECKPOINTS[name]
    d = ckpt[name]
    assert detect_format(d) == fmt
    torch.manual_seed(1)
    stated = load_model(d, fmt)
    torch.manual_seed(2)
    detected = load_model(d, None)
    assert type(stated) is type(detected) and not getattr(stated, "module", stated).training
    if name == "sam":
        images, masks = Z.box_masks(2, 64)
        runs = [promptable_segmentation(m, images, masks, batch_size=2, device="cpu")[0] for m in (stated, detected)]
        with torch.no_grad():
            emb = [m.get_image_embeddings(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
                   for m in (stated, detected)]
        assert np.array_equal(*runs) and torch.equal(*emb)
        return
    x = colours[0][:6]
    a, b = (features(m, x, batch_size=3, device="cpu", **_kw(m)) for m in (stated, detected))
    assert np.array_equal(a, b)
    torch.manual_seed(3)
    fresh = fn(d.parent / f"{name}-again")
    assert np.array_equal(features(load_model(fresh, fmt), x, batch_size=3, device="cpu", **_kw(stated)), a)


def test_checkpoints_declare_their_own_normalisation(ckpt):
    """What reaches the recipes is what each library wrote next to the weights."""
    oc = Z.config(ckpt["open_clip_model"], "open_clip_config.json")["preprocess_cfg"]
    expect = {
        "timm_vit": (32, (0.5, 0.5, 0.5)),  # timm's ViT pretrained_cfg
        "timm_resnet": (32, (0.485, 0.456, 0.406)),  # the data_config given to save_for_hf
        "open_clip_model": (32, tuple(oc["mean"])),
        "vit": (32, (0.5, 0.5, 0.5)),  # the image processors' configs
        "dinov2": (32, (0.485, 0.456, 0.406)),
        "clip": (32, (0.48145466, 0.4578275, 0.40821073)),
        "siglip": (32, (0.5, 0.5, 0.5)),
    }
    for name, (size, mean) in expect.items():
        pre = load_model(ckpt[name], None).preprocessing
        assert pre["size"] == size and pre["mean"] == pytest.approx(mean), name


@pytest.mark.parametrize("name", ENCODERS)
def test_probe_recipes_separate_the_colours(ckpt, colours, name):
    """Frozen features of any encoder separate pure red, green and blue images: linear probe and k-NN must
    reach balanced accuracy 1.0 on the unseen test images (a broken feature path gives ~1/3)."""
    xtr, ytr, xte, yte = colours
    net = load_model(ckpt[name], Z.CHECKPOINTS[name][1])
    ftr = features(net, xtr, batch_size=4, device="cpu", **_kw(net))
    fte = features(net, xte, batch_size=5, device="cpu", **_kw(net))
    assert ftr.shape[0] == len(xtr) and fte.shape[1] == ftr.shape[1] and np.isfinite(ftr).all()
    assert not np.allclose(fte[yte == 0].mean(0), fte[yte == 1].mean(0))
    for recipe, (classes, prob) in {"linear-probe": linear_probe(ftr, ytr, fte),
                                    "knn": knn(ftr, ytr, fte, k=5)}.items():
        assert prob.shape == (len(xte), 3) and np.allclose(prob.sum(1), 1), recipe
        assert M.balanced_accuracy(yte, classes[prob.argmax(1)]) == 1.0, (name, recipe)


def _library_cosines(name, d, images, classes, template):
    """Image-text cosine similarities computed by the library's own pipeline (its processor or transform, its
    tokenizer, its forward pass), one prompt per class."""
    from PIL import Image

    prompts = [template.format(c) for c in classes]
    pil = [Image.fromarray(im) for im in images]
    with torch.no_grad():
        if name == "open_clip_model":
            import open_clip

            model, _, transform = open_clip.create_model_and_transforms(f"local-dir:{d}")
            tok = open_clip.get_tokenizer(f"local-dir:{d}")
            img_f, txt_f, _ = model.eval()(torch.stack([transform(p) for p in pil]), tok(prompts))
            return (img_f @ txt_f.T).numpy()
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(d).eval()
        pix = AutoImageProcessor.from_pretrained(d)(images=pil, return_tensors="pt")["pixel_values"]
        # as the libraries' model cards run them: SigLIP with prompts padded to its full text length
        pad = ({"padding": "max_length", "max_length": model.config.text_config.max_position_embeddings}
               if name == "siglip" else {"padding": True})
        tok = AutoTokenizer.from_pretrained(d)(prompts, return_tensors="pt", **pad)
        out = model(input_ids=tok["input_ids"], attention_mask=tok.get("attention_mask"), pixel_values=pix)
        logits = out.logits_per_image
        if name == "siglip":  # sigmoid logits: scale * cos + bias
            return ((logits - model.logit_bias) / model.logit_scale.exp()).numpy()
        return (logits / model.logit_scale.exp()).numpy()


@pytest.mark.parametrize("name", sorted(VISION_LANGUAGE))
def test_zero_shot_equals_the_libraries_own_inference(ckpt, colours, name):
    """The zoo's zero-shot scores (softmax of 100 · cosine over classes) from the library's own cosines: the
    checkpoint's normalisation, tokenizer and towers are used as the library uses them."""
    _, _, xte, _ = colours
    d = ckpt[name]
    net = load_model(d, Z.CHECKPOINTS[name][1])
    tokenizer = None
    if not hasattr(net, "text_features"):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(d)
    template = "a photo of the {}"
    prob = zero_shot_classification(net, tokenizer, xte, Z.COLOURS, [template], batch_size=5, device="cpu",
                                    **_kw(net))
    cos = _library_cosines(name, d, xte, Z.COLOURS, template)
    assert prob.shape == (len(xte), 3)
    assert np.allclose(prob, torch.softmax(100 * torch.as_tensor(cos), 1).numpy(), atol=1e-4)
    # and templates are averaged: a second template changes the scores
    two = zero_shot_classification(net, tokenizer, xte, Z.COLOURS, [template, "a {} image"], batch_size=5,
                                   device="cpu", **_kw(net))
    assert np.allclose(two.sum(1), 1) and not np.allclose(two, prob)


def test_sam_box_prompts_equal_the_library_pipeline(ckpt):
    """Promptable segmentation with ground-truth boxes: one mask per case of the image's shape, equal to what
    SamImageProcessor + SamModel + post_process_masks give for the same boxes."""
    from transformers import SamImageProcessor, SamModel, SamProcessor

    images, masks = Z.box_masks(4, 64, seed=3)
    masks[2] = 0  # an empty case gets no prompt
    net = load_model(ckpt["sam"], "transformers")
    pred, keep = promptable_segmentation(net, images, masks, batch_size=2, device="cpu")
    assert keep == [0, 1, 3] and pred.shape == (3, 64, 64) and pred.dtype == bool
    dice = [M.dice(p, masks[i] > 0) for p, i in zip(pred, keep)]
    assert all(0.0 <= v <= 1.0 for v in dice)

    proc = SamProcessor(image_processor=SamImageProcessor.from_pretrained(ckpt["sam"]))
    model = SamModel.from_pretrained(ckpt["sam"]).eval()
    boxes = [[list(map(float, box_from_mask(masks[i] > 0)))] for i in keep]
    inputs = proc(images=[images[i] for i in keep], input_boxes=boxes, return_tensors="pt")
    with torch.no_grad():
        out = model(pixel_values=inputs["pixel_values"], input_boxes=inputs["input_boxes"], multimask_output=False)
    ref = proc.post_process_masks(out.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"])
    ref = np.stack([r[0, 0].numpy() for r in ref])
    assert (ref == pred).mean() > 0.999


# ------------------------------------------------------------------------------------- zoo verify, the CLI
@pytest.mark.parametrize("name,fmt,family,result", [
    ("timm_vit", "timm", "vision-only", "probe"),
    ("open_clip_model", "open_clip", "vision-language", "probe"),
    ("timm_resnet", None, "vision-only", "knn"),  # the format read from the files
])
def test_zoo_verify_end_to_end(ckpt, tmp_path, capsys, name, fmt, family, result):
    model_id = name.replace("_", "-")
    cat = Z.catalog(tmp_path / "catalog", model_id, fmt, family)
    assert main(["catalog", "validate", "--catalog", str(cat)]) == 0
    data = Z.colour_npz(tmp_path / "colours.npz", n_train=5, n_test=4)
    records = tmp_path / "records"
    capsys.readouterr()
    rc = main(["zoo", "verify", model_id, "--catalog", str(cat), "--checkpoint", f"local-dir:{ckpt[name]}",
               "--data", str(data), "--records", str(records), "--result", f"{model_id}-{result}", "--device", "cpu",
               "--bootstrap", "100", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "-> REPRODUCED" in out
    written = next(records.glob(f"{model_id}-{result}--*.json"))
    assert f"record: {written}" in out
    rec = json.loads(written.read_text())
    assert rec["reproduced"] == 1.0 and rec["verdict"] == "reproduced" and rec["n"] == 12
    assert rec["recipe"] == ("linear-probe" if result == "probe" else "knn")
    weights = {"timm": "model.safetensors", "open_clip": "open_clip_model.safetensors"}[fmt or "timm"]
    assert weights in rec["checkpoint_sha256"] and rec["device"] == "cpu" and rec["precision"] == "fp32"
