"""Zero-shot CLIP classification in the zoo: class prompts from the catalog, verify end to end."""

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fmreview.reports.cli import main  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from tiny_zoo import synthetic_medmnist  # noqa: E402


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPConfig, CLIPModel, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("tinyclip")
    words = ["[PAD]", "[UNK]", "a", "photo", "of", "dark", "bright", "image"]
    tk = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", unk_token="[UNK]").save_pretrained(d)
    cfg = CLIPConfig(text_config=dict(vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, max_position_embeddings=16, pad_token_id=0, bos_token_id=0,
                                      eos_token_id=1),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                        image_size=32, patch_size=8), projection_dim=16)
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(d)
    return d


def catalog(root, value, with_prompts=True):
    from conftest import write_catalog

    prompts = ("  class_prompts:\n    classes: [dark, bright]\n    templates: ['a photo of {}', 'a {} image']\n"
               if with_prompts else "")
    results = textwrap.dedent("""
        source:
          paper: clip-2021
          url: https://example.org/tinyclip
        results:
        - id: tinyclip-zs
          model: clip
          dataset: chexpert
          task: classification
          metric: accuracy
          value: VALUE
          unit: fraction
          setting: zero-shot
          protocol:
            head: {kind: zero-shot}
          locator: Table 1
    """).replace("VALUE", str(value)) + prompts
    return write_catalog(root, extra={"results/tinyclip.yaml": results})


def test_zero_shot_verify_end_to_end(tiny_clip, tmp_path, capsys):
    from transformers import AutoTokenizer

    from fmreview.zoo.loading import load_model
    from fmreview.zoo.recipes import zero_shot_classification

    data = synthetic_medmnist(tmp_path / "d.npz")
    with np.load(data) as z:
        x, y = z["test_images"][..., None], z["test_labels"][:, 0]
    prob = zero_shot_classification(load_model(tiny_clip, "transformers"), AutoTokenizer.from_pretrained(tiny_clip), x,
                                    ["dark", "bright"], ["a photo of {}", "a {} image"], batch_size=8, device="cpu")
    assert prob.shape == (40, 2) and np.allclose(prob.sum(1), 1)
    expected = float(np.mean(prob.argmax(1) == y))
    cat = catalog(tmp_path / "catalog", round(expected, 6))
    base = ["zoo", "verify", "clip", "--catalog", str(cat), "--checkpoint", f"local-dir:{tiny_clip}", "--data", str(data),
            "--records", str(tmp_path / "rec"), "--bootstrap", "100", "--quiet"]
    assert main(base + ["--result", "tinyclip-zs"]) == 0
    assert "-> REPRODUCED" in capsys.readouterr().out
    rec = json.loads(next((tmp_path / "rec").glob("*.json")).read_text())
    assert rec["recipe"] == "zero-shot-classification" and rec["reproduced"] == pytest.approx(expected)


def test_zero_shot_needs_class_prompts(tiny_clip, tmp_path, capsys):
    cat = catalog(tmp_path / "catalog", 0.5, with_prompts=False)
    assert main(["zoo", "verify", "clip", "--catalog", str(cat), "--checkpoint", f"local-dir:{tiny_clip}",
                 "--data", str(tmp_path), "--result", "tinyclip-zs", "--quiet"]) == 1
    assert "needs class_prompts" in capsys.readouterr().err


def test_zero_shot_labels_must_index_the_class_prompts(tmp_path, capsys):
    """Labels are positions in class_prompts.classes: a label past the end is refused before any model load."""
    cat = catalog(tmp_path / "catalog", 0.5)
    data = tmp_path / "three.npz"
    x = np.zeros((6, 8, 8), np.uint8)
    np.savez(data, test_images=x, test_labels=(np.arange(6) % 3).reshape(-1, 1))
    assert main(["zoo", "verify", "clip", "--catalog", str(cat), "--checkpoint", f"local-dir:{tmp_path / 'absent'}",
                 "--data", str(data), "--result", "tinyclip-zs", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "the test split has labels 0, 1, 2, but the result's class_prompts name 2 classes (labels 0 to 1" in err
