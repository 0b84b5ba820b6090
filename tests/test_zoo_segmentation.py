"""Promptable segmentation in the zoo: box prompts from the ground truth, NIfTI data, verify end to end."""

import json
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nib = pytest.importorskip("nibabel")

from fmreview.reports.cli import main  # noqa: E402
from fmreview.zoo.recipes import box_from_mask, promptable_segmentation  # noqa: E402


def test_box_from_mask_by_hand():
    m = np.zeros((10, 12), bool)
    m[2:5, 3:9] = True
    assert box_from_mask(m) == (3, 2, 8, 4)
    assert box_from_mask(np.zeros((4, 4), bool)) is None


@pytest.fixture(scope="module")
def tiny_sam(tmp_path_factory):
    from transformers import SamConfig, SamMaskDecoderConfig, SamModel, SamPromptEncoderConfig, SamVisionConfig

    torch.manual_seed(0)
    cfg = SamConfig(
        vision_config=SamVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                      image_size=64, patch_size=16, output_channels=32, global_attn_indexes=[1],
                                      window_size=2, num_pos_feats=16),
        prompt_encoder_config=SamPromptEncoderConfig(hidden_size=32, image_size=64, patch_size=16, mask_input_channels=4),
        mask_decoder_config=SamMaskDecoderConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, mlp_dim=64,
                                                 iou_head_hidden_dim=32))
    d = tmp_path_factory.mktemp("tinysam")
    SamModel(cfg).save_pretrained(d, safe_serialization=True)
    return d


@pytest.fixture
def nifti(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "ct"
    (d / "imagesTr").mkdir(parents=True)
    (d / "labelsTr").mkdir()
    img = rng.normal(size=(40, 40, 6)).astype(np.float32)
    lab = np.zeros((40, 40, 6), np.uint8)
    for z in range(5):
        lab[8 + z:20 + z, 10:24 - z, z] = 1
    nib.save(nib.Nifti1Image(img, np.eye(4)), str(d / "imagesTr" / "case1_0000.nii.gz"))
    nib.save(nib.Nifti1Image(lab, np.eye(4)), str(d / "labelsTr" / "case1.nii.gz"))
    return d


def catalog(root, reported_ok: float):
    from conftest import write_catalog

    model = """
        id: tinysam
        name: Tiny SAM (test)
        year: 2024
        family: vision-only
        band: general
        model_group: vision-fm
        modalities: [ct]
        tasks: [segmentation]
        checkpoints:
        - hub: other
          url: https://example.org/tinysam
          format: transformers
        sources:
        - url: https://example.org/tinysam
          locator: test fixture
    """
    results = f"""
        source:
          paper: sam-2023
          url: https://example.org/tinysam
        results:
        - id: tinysam-ok
          model: tinysam
          dataset: btcv
          task: segmentation
          metric: dice
          value: {reported_ok}
          unit: fraction
          setting: zero-shot
          prompt: box
          protocol:
            head: {{kind: box-prompt, mask_selection: single}}
          locator: Table 1
        - id: tinysam-wrong
          model: tinysam
          dataset: btcv
          task: segmentation
          metric: dice
          value: 0.999
          unit: fraction
          setting: zero-shot
          prompt: box
          protocol:
            head: {{kind: box-prompt, mask_selection: single}}
          condition: a deliberately wrong value
          locator: Table 1
    """
    return write_catalog(root, extra={"models/tinysam.yaml": textwrap.dedent(model),
                                      "results/tinysam.yaml": textwrap.dedent(results)})


def test_segmentation_verify_end_to_end(tiny_sam, nifti, tmp_path, capsys):
    from fmreview.zoo.datasets import load_split
    from fmreview.zoo.loading import load_model
    from fmreview.zoo.metrics import dice

    split = load_split(nifti, "test")
    assert split.images.shape == (6, 40, 40, 1) and split.labels.shape == (6, 40, 40)
    pred, keep = promptable_segmentation(load_model(tiny_sam, "transformers"), split.images, split.labels,
                                         batch_size=2, device="cpu")
    assert keep == [0, 1, 2, 3, 4] and pred.shape == (5, 40, 40)  # the empty slice gets no prompt
    expected = float(np.mean([dice(a, b > 0) for a, b in zip(pred, split.labels[keep])]))
    cat = catalog(tmp_path / "catalog", round(expected, 4))
    records = tmp_path / "records"
    base = ["zoo", "verify", "tinysam", "--catalog", str(cat), "--checkpoint", f"local-dir:{tiny_sam}",
            "--data", str(nifti), "--records", str(records), "--device", "cpu", "--bootstrap", "200", "--quiet"]
    assert main(base + ["--result", "tinysam-ok"]) == 0
    assert "-> REPRODUCED" in capsys.readouterr().out
    assert main(base + ["--result", "tinysam-wrong"]) == 0
    out = capsys.readouterr().out
    assert "-> NOT REPRODUCED" in out or "-> INCONCLUSIVE" in out
    rec = json.loads(sorted(records.glob("tinysam-ok*.json"))[0].read_text())
    assert rec["recipe"] == "promptable-segmentation" and rec["n"] == 5
    assert rec["reproduced"] == pytest.approx(expected) and rec["data_source"].startswith("nifti:")
