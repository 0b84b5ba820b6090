"""Evaluation recipes. Each returns per-case arrays so metrics and their bootstrap CIs are computed the same way.

- ``linear-probe``: frozen features → multinomial logistic regression (L2, LBFGS, torch) fit on the train split,
  balanced accuracy / accuracy / AUC on the test split.
- ``knn``: frozen, L2-normalised features; cosine k-NN (k = 20, similarity-weighted votes, as DINO's protocol).
- ``zero-shot-classification``: CLIP-style image/text embeddings, class prompts from the catalog's result note
  or the user; softmax over classes.
- ``promptable-segmentation``: a SAM-style model prompted with the ground-truth mask's bounding box; Dice, NSD.
"""

from __future__ import annotations

import numpy as np

from .device import autocast, batched


def to_tensor(images: np.ndarray):
    """uint8 (0–255) or float N×H×W×C → float tensor N×3×H×W in [0, 1] (grey images repeated to 3 channels)."""
    import torch

    x = torch.as_tensor(images, dtype=torch.float32)
    if x.max() > 1.5:
        x = x / 255.0
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"images of shape {tuple(x.shape)}; expected N×H×W×1 or N×H×W×3 "
                         "(fmreview.zoo.datasets.channels_last converts grey and RGBA)")
    x = x.permute(0, 3, 1, 2)
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


def preprocess(images: np.ndarray, size: int, mean, std):
    """uint8/float N×H×W×C → float tensor N×3×size×size, resized bilinearly and normalised."""
    import torch
    import torch.nn.functional as F

    x = to_tensor(images)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - m) / s


def image_size(model, default: int = 224) -> int:
    cfg = getattr(model, "config", None)
    vc = getattr(cfg, "vision_config", cfg)
    return int(getattr(vc, "image_size", default) or default)


def features(model, images: np.ndarray, *, batch_size: int, device: str, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
             size: int | None = None, log=None) -> np.ndarray:
    """Frozen image embeddings: CLIP-style models' projected image features; otherwise the CLS token of the last
    hidden state (N×T×D), or the spatial mean of a feature map (N×C×H×W, SAM-style). A model's pooler head is not
    used: many checkpoints ship without it, and an untrained pooler would make the features random."""
    import torch

    size = size or image_size(model)
    model = model.to(device)

    def run(chunk):
        x = preprocess(chunk, size, mean, std)
        if device == "cuda":
            x = x.pin_memory().to(device, non_blocking=True)
        with torch.inference_mode(), autocast(device):
            if hasattr(model, "get_image_features"):
                f = model.get_image_features(pixel_values=x)
                f = getattr(f, "pooler_output", f)
            else:
                h = model(pixel_values=x).last_hidden_state
                f = h[:, 0] if h.ndim == 3 else h.mean(dim=(2, 3))
        return f.float().cpu().numpy()

    parts, _ = batched(run, images, batch_size, device, log)
    return np.concatenate(parts)


def linear_probe(train_x, train_y, test_x, *, l2: float = 1e-3, iters: int = 200, seed: int = 0):
    """Class probabilities on test_x from an L2-regularised multinomial logistic regression."""
    import torch

    torch.manual_seed(seed)
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    xt = torch.as_tensor((train_x - mu) / sd, dtype=torch.float64)
    xe = torch.as_tensor((test_x - mu) / sd, dtype=torch.float64)
    classes = np.unique(train_y)
    yt = torch.as_tensor(np.searchsorted(classes, train_y))
    w = torch.zeros(xt.shape[1], len(classes), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        p = torch.softmax(xe @ w + b, dim=1).numpy()
    return classes, p


def knn(train_x, train_y, test_x, k: int = 20, temperature: float = 0.07):
    """Cosine k-NN with exp(sim/T)-weighted votes; returns (classes, scores)."""
    a = train_x / np.linalg.norm(train_x, axis=1, keepdims=True)
    b = test_x / np.linalg.norm(test_x, axis=1, keepdims=True)
    sim = b @ a.T
    k = min(k, len(a))
    idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    classes = np.unique(train_y)
    scores = np.zeros((len(b), len(classes)))
    pos = np.searchsorted(classes, train_y)
    for j in range(k):
        s = np.exp(sim[np.arange(len(b)), idx[:, j]] / temperature)
        np.add.at(scores, (np.arange(len(b)), pos[idx[:, j]]), s)
    return classes, scores / scores.sum(1, keepdims=True)


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def box_from_mask(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight bounding box (x0, y0, x1, y1) of a mask's foreground, or None when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def promptable_segmentation(model, images: np.ndarray, masks: np.ndarray, *, batch_size: int, device: str,
                            log=None) -> tuple[np.ndarray, list[int]]:
    """SAM-style segmentation prompted with each case's ground-truth box (foreground = label > 0).

    Images are resized so the longest side equals the encoder's input size, padded to a square and normalised
    with ImageNet statistics (SAM's preprocessing); the low-resolution mask logits are upsampled to the padded
    input, cropped and resized back to the original size, then thresholded at 0. Cases with an empty mask are
    skipped (no prompt can be derived). Returns the predicted masks and the indices of the cases used.
    """
    import torch
    import torch.nn.functional as F

    size = image_size(model, 1024)
    gt = masks > 0
    keep = [i for i in range(len(gt)) if gt[i].any()]
    h, w = gt.shape[1:3]
    scale = size / max(h, w)
    nh, nw = int(round(h * scale)), int(round(w * scale))
    model = model.to(device)

    def run(idx):
        x = F.interpolate(to_tensor(images[idx]), size=(nh, nw), mode="bilinear", align_corners=False)
        x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        x = F.pad(x, (0, size - nw, 0, size - nh))
        boxes = torch.tensor([[list(np.array(box_from_mask(gt[i]), dtype=float) * scale)] for i in idx],
                             dtype=torch.float32)
        with torch.inference_mode(), autocast(device):
            out = model(pixel_values=x.to(device), input_boxes=boxes.to(device), multimask_output=False)
        logits = out.pred_masks[:, 0, 0].float().cpu()[:, None]
        logits = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)[..., :nh, :nw]
        logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        return (logits > 0).numpy()

    parts, _ = batched(run, keep, batch_size, device, log)
    return (np.concatenate(parts) if parts else np.zeros((0, h, w), bool)), keep


def zero_shot_classification(model, tokenizer, images: np.ndarray, classes: list[str], templates: list[str], *,
                             batch_size: int, device: str, log=None, mean=(0.48145466, 0.4578275, 0.40821073),
                             std=(0.26862954, 0.26130258, 0.27577711), size: int | None = None):
    """CLIP-style zero-shot classification: each class embedding is the normalised mean of its prompts'
    embeddings (templates filled with the class name); scores are softmax(100 · cosine) over classes.
    Defaults are CLIP's normalisation constants."""
    import torch

    model = model.to(device)
    with torch.inference_mode():
        text = []
        for c in classes:
            prompts = [t.format(c) for t in templates]
            if hasattr(model, "text_features"):  # an open_clip adapter brings its own tokenizer
                e = model.text_features(prompts, device)
            else:
                tok = tokenizer(prompts, padding=True, return_tensors="pt").to(device)
                e = model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok.get("attention_mask"))
            e = getattr(e, "pooler_output", e).float()
            e = torch.nn.functional.normalize(e, dim=-1).mean(0)
            text.append(torch.nn.functional.normalize(e, dim=-1))
        text = torch.stack(text)
    img = features(model, images, batch_size=batch_size, device=device, mean=mean, std=std, size=size, log=log)
    img = torch.nn.functional.normalize(torch.as_tensor(img), dim=-1)
    return torch.softmax(100.0 * img @ text.cpu().T, dim=1).numpy()
