"""Evaluation recipes. Each returns per-case arrays so metrics and their bootstrap CIs are computed the same way.
Every setting a protocol can state is an argument here (fmreview.zoo.protocols resolves them); the defaults are
the zoo's own, used only where the protocol is silent, and the record names which were used.

- ``linear-probe``: frozen features → a head fitted on the train split, either a multinomial logistic regression
  (L2, LBFGS, torch; the default, and what "logistic regression" protocols such as UNI's state) or a linear
  layer trained by SGD / Adam / AdamW for the stated epochs, learning rate, batch, weight decay and schedule
  (eva's head).
- ``knn``: frozen features; k-NN (cosine or Euclidean) with uniform, similarity or exp(similarity/T) votes
  (default k = 20, T = 0.07, as DINO's protocol).
- ``zero-shot-classification``: CLIP-style image/text embeddings, class prompts from the catalog's result or
  protocol; softmax over classes, or per class over a positive/negative prompt pair (CheXzero).
- ``promptable-segmentation``: a SAM-style model prompted with the ground-truth mask's bounding box, keeping
  the single mask or, with multimask output, the one of highest predicted IoU; Dice, NSD.

Resize rules: ``square`` (resize to size × size), ``shortest-edge`` (shortest side to size, then a centre crop
of size × size), ``longest-edge`` (longest side to size, then zero padding at the bottom and right, as SAM).
"""

from __future__ import annotations

import numpy as np

from .device import autocast, batched, prepare_model, to_device


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


def resize(x, size: int, rule: str = "square", crop: str | None = None):
    """N×3×H×W → resized by ``rule`` (see the module docstring); shortest-edge is centre-cropped to size × size
    unless ``crop`` is 'none'. longest-edge returns the unpadded resize (pad after normalising)."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    if rule == "square":
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if rule == "shortest-edge":
        scale = size / min(h, w)
        nh, nw = max(size, int(round(h * scale))), max(size, int(round(w * scale)))
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
        if crop == "none":
            return x
        top, left = (nh - size) // 2, (nw - size) // 2
        return x[..., top:top + size, left:left + size]
    if rule == "longest-edge":
        scale = size / max(h, w)
        nh, nw = int(round(h * scale)), int(round(w * scale))
        return F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
    raise ValueError(f"unknown resize rule {rule!r}; expected square, shortest-edge or longest-edge")


def preprocess(images: np.ndarray, size: int, mean, std, rule: str = "square", crop: str | None = None):
    """uint8/float N×H×W×C → float tensor N×3×size×size, resized by ``rule`` and normalised."""
    import torch
    import torch.nn.functional as F

    x = resize(to_tensor(images), size, rule, crop)
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    x = (x - m) / s
    if rule == "longest-edge":  # pad the normalised image, as SAM does
        x = F.pad(x, (0, size - x.shape[-1], 0, size - x.shape[-2]))
    return x


def image_size(model, default: int = 224) -> int:
    cfg = getattr(model, "config", None)
    vc = getattr(cfg, "vision_config", cfg)
    return int(getattr(vc, "image_size", default) or default)


def features(model, images: np.ndarray, *, batch_size: int, device: str, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
             size: int | None = None, resize: str = "square", crop: str | None = None, log=None) -> np.ndarray:
    """Frozen image embeddings: CLIP-style models' projected image features; otherwise the CLS token of the last
    hidden state (N×T×D), or the spatial mean of a feature map (N×C×H×W, SAM-style). A model's pooler head is not
    used: many checkpoints ship without it, and an untrained pooler would make the features random."""
    import torch

    size = size or image_size(model)
    model = prepare_model(model, device)

    def run(chunk):
        x = preprocess(chunk, size, mean, std, resize, crop)
        x = to_device(x, device, model)  # pinned + non_blocking (+ channels-last) on CUDA
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


def linear_probe(train_x, train_y, test_x, *, l2: float = 1e-3, iters: int = 200, seed: int = 0, max_iter=None,
                 **_ignored):
    """Class probabilities on test_x from an L2-regularised multinomial logistic regression (features
    standardised on the train split; LBFGS with strong-Wolfe line search, ``max_iter`` iterations)."""
    import torch

    torch.manual_seed(seed)
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    xt = torch.as_tensor((train_x - mu) / sd, dtype=torch.float64)
    xe = torch.as_tensor((test_x - mu) / sd, dtype=torch.float64)
    classes = np.unique(train_y)
    yt = torch.as_tensor(np.searchsorted(classes, train_y))
    w = torch.zeros(xt.shape[1], len(classes), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=int(max_iter or iters), line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        p = torch.softmax(xe @ w + b, dim=1).numpy()
    return classes, p


def linear_head(train_x, train_y, test_x, *, optimiser: str = "sgd", epochs: int = 100, max_steps: int | None = None,
                learning_rate: float = 1e-3, batch_size: int = 256, weight_decay: float = 0.0, momentum: float = 0.9,
                schedule: str | None = None, seed: int = 0, val_x=None, val_y=None, patience: int | None = None,
                monitor: str = "loss", **_ignored):
    """A linear layer on frozen features trained with cross entropy by ``optimiser`` (sgd, adam, adamw) for
    ``epochs`` passes over the train split in shuffled mini-batches (or ``max_steps`` steps, whichever the
    protocol states), with a constant or cosine learning-rate ``schedule``. Features are used as they are (no
    standardisation: eva's head sees the raw embeddings). With a validation split and ``patience``, training
    stops after ``patience`` epochs without improvement of ``monitor`` (loss, accuracy, balanced-accuracy) on it,
    and the head of the best epoch is kept. Returns (classes, test probabilities)."""
    import torch

    from .protocols import schedule_name

    g = torch.Generator().manual_seed(int(seed))
    classes = np.unique(train_y)
    xt = torch.as_tensor(np.asarray(train_x), dtype=torch.float32)
    yt = torch.as_tensor(np.searchsorted(classes, train_y))
    xe = torch.as_tensor(np.asarray(test_x), dtype=torch.float32)
    torch.manual_seed(int(seed))
    layer = torch.nn.Linear(xt.shape[1], len(classes))
    params = layer.parameters()
    if optimiser == "sgd":
        opt = torch.optim.SGD(params, lr=learning_rate, momentum=momentum, weight_decay=weight_decay)
    elif optimiser == "adam":
        opt = torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)
    elif optimiser == "adamw":
        opt = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimiser {optimiser!r}: the linear head trains with sgd, adam or adamw")
    n = len(xt)
    bs = min(int(batch_size), n)
    per_epoch = -(-n // bs)
    steps = int(max_steps) if max_steps else int(epochs) * per_epoch
    cosine = schedule_name(schedule) == "cosine"
    watch = patience is not None and val_x is not None and len(val_x) > 0
    if watch:
        keep = np.isin(val_y, classes)  # a validation class the train split lacks cannot be predicted
        xv = torch.as_tensor(np.asarray(val_x)[keep], dtype=torch.float32)
        yv_raw = np.asarray(val_y)[keep]
        yv = torch.as_tensor(np.searchsorted(classes, yv_raw))
    best, best_state, stale = None, None, 0
    step = 0
    while step < steps:
        order = torch.randperm(n, generator=g)
        for i in range(0, n, bs):
            if step >= steps:
                break
            if cosine:
                for group in opt.param_groups:
                    group["lr"] = 0.5 * learning_rate * (1 + np.cos(np.pi * step / steps))
            idx = order[i:i + bs]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(layer(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            step += 1
        if watch and len(yv):
            with torch.no_grad():
                logits = layer(xv)
            if monitor == "loss":
                score = -float(torch.nn.functional.cross_entropy(logits, yv))
            else:
                pred = classes[logits.argmax(1).numpy()]
                score = (float(np.mean(pred == yv_raw)) if monitor == "accuracy"
                         else float(np.mean([np.mean(pred[yv_raw == c] == c) for c in np.unique(yv_raw)])))
            if best is None or score > best:
                best, stale = score, 0
                best_state = {k: v.clone() for k, v in layer.state_dict().items()}
            else:
                stale += 1
                if stale >= patience:
                    break
    if best_state is not None:
        layer.load_state_dict(best_state)
    with torch.no_grad():
        p = torch.softmax(layer(xe), dim=1).numpy()
    return classes, p


def knn(train_x, train_y, test_x, k: int = 20, temperature: float = 0.07, weighting: str = "exp-similarity",
        distance: str = "cosine", center: bool = False, normalise: bool = False, **_ignored):
    """k-NN on frozen features; returns (classes, vote shares).

    distance: ``cosine`` (L2-normalised features, similarity = dot product) or ``euclidean`` (similarity =
    −distance). weighting: ``uniform`` (one vote each), ``similarity`` (vote = similarity) or ``exp-similarity``
    (vote = exp(similarity / temperature), DINO's weighted k-NN). ``center`` subtracts the train split's mean
    feature from both splits first and ``normalise`` L2-normalises them (UNI's eval_knn: both, then scikit-learn's
    uniform Euclidean k-NN)."""
    a, b = np.asarray(train_x, dtype=np.float64), np.asarray(test_x, dtype=np.float64)
    if center:
        mu = a.mean(0, keepdims=True)
        a, b = a - mu, b - mu
    if normalise:
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    if distance == "cosine":
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        sim = b @ a.T
    elif distance == "euclidean":
        sim = -np.sqrt(np.maximum((b * b).sum(1)[:, None] + (a * a).sum(1)[None] - 2 * b @ a.T, 0))
    else:
        raise ValueError(f"distance {distance!r}: expected cosine or euclidean")
    k = min(int(k), len(a))
    idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    classes = np.unique(train_y)
    scores = np.zeros((len(b), len(classes)))
    pos = np.searchsorted(classes, train_y)
    rows = np.arange(len(b))
    for j in range(k):
        s = sim[rows, idx[:, j]]
        if weighting == "uniform":
            w = np.ones_like(s)
        elif weighting == "similarity":
            w = np.maximum(s, 0) if distance == "cosine" else 1.0 / (1e-12 - s)
        elif weighting == "exp-similarity":
            w = np.exp(s / temperature)
        else:
            raise ValueError(f"weighting {weighting!r}: expected uniform, similarity or exp-similarity")
        np.add.at(scores, (rows, pos[idx[:, j]]), w)
    total = scores.sum(1, keepdims=True)
    return classes, scores / np.where(total > 0, total, 1)


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def box_from_mask(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tight bounding box (x0, y0, x1, y1) of a mask's foreground, or None when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def promptable_segmentation(model, images: np.ndarray, masks: np.ndarray, *, batch_size: int, device: str,
                            log=None, size: int | None = None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                            mask_selection: str = "single", **_ignored) -> tuple[np.ndarray, list[int]]:
    """SAM-style segmentation prompted with each case's ground-truth box (foreground = label > 0).

    Images are resized so the longest side equals the encoder's input size, normalised (ImageNet statistics
    unless the protocol states others) and padded to a square (SAM's preprocessing); the low-resolution mask
    logits are upsampled to the padded input, cropped and resized back to the original size, then thresholded at
    0. ``mask_selection``: ``single`` asks for one mask (multimask_output=False); ``multimask-highest-iou`` asks
    for SAM's three and keeps the one with the highest predicted IoU. Cases with an empty mask are skipped (no
    prompt can be derived). Returns the predicted masks and the indices of the cases used.
    """
    import torch
    import torch.nn.functional as F

    if mask_selection not in ("single", "multimask-highest-iou"):
        raise ValueError(f"mask_selection {mask_selection!r}: expected single or multimask-highest-iou")
    size = int(size or image_size(model, 1024))
    gt = masks > 0
    keep = [i for i in range(len(gt)) if gt[i].any()]
    h, w = gt.shape[1:3]
    scale = size / max(h, w)
    nh, nw = int(round(h * scale)), int(round(w * scale))
    model = prepare_model(model, device)
    multi = mask_selection == "multimask-highest-iou"

    def run(idx):
        x = preprocess(images[idx], size, mean, std, "longest-edge")
        boxes = torch.tensor([[list(np.array(box_from_mask(gt[i]), dtype=float) * scale)] for i in idx],
                             dtype=torch.float32)
        with torch.inference_mode(), autocast(device):
            out = model(pixel_values=to_device(x, device, model), input_boxes=to_device(boxes, device),
                        multimask_output=multi)
        masks_ = out.pred_masks[:, 0].float().cpu()  # B × M × h' × w'
        pick = out.iou_scores[:, 0].float().cpu().argmax(-1) if multi else torch.zeros(len(idx), dtype=torch.long)
        logits = masks_[torch.arange(len(idx)), pick][:, None]
        logits = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)[..., :nh, :nw]
        logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        return (logits > 0).numpy()

    parts, _ = batched(run, keep, batch_size, device, log)
    return (np.concatenate(parts) if parts else np.zeros((0, h, w), bool)), keep


def _siglip_length(model, tokenizer) -> int:
    """The text length SigLIP was trained at: its text config's max_position_embeddings (64 for the released
    checkpoints), which the tokenizer's model_max_length may not state."""
    tc = getattr(model.config, "text_config", None)
    n = getattr(tc, "max_position_embeddings", None)
    return int(n or min(getattr(tokenizer, "model_max_length", 64) or 64, 64))


def _text_embedding(model, tokenizer, prompts: list[str], device: str):
    import torch

    if hasattr(model, "text_features"):  # an open_clip adapter brings its own tokenizer
        e = model.text_features(prompts, device)
    else:
        # SigLIP pools its last token and was trained on prompts padded to the tokenizer's full length; CLIP-style
        # towers pool at the end-of-text token, so padding to the longest prompt is enough for them
        siglip = getattr(getattr(model, "config", None), "model_type", "") in ("siglip", "siglip2")
        pad = {"padding": "max_length", "max_length": _siglip_length(model, tokenizer)} if siglip else {"padding": True}
        tok = tokenizer(prompts, return_tensors="pt", truncation=siglip, **pad).to(device)
        e = model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok.get("attention_mask"))
    e = getattr(e, "pooler_output", e).float()
    e = torch.nn.functional.normalize(e, dim=-1).mean(0)
    return torch.nn.functional.normalize(e, dim=-1)


def zero_shot_classification(model, tokenizer, images: np.ndarray, classes: list[str], templates: list[str], *,
                             batch_size: int, device: str, log=None, mean=(0.48145466, 0.4578275, 0.40821073),
                             std=(0.26862954, 0.26130258, 0.27577711), size: int | None = None,
                             resize: str = "square", crop: str | None = None,
                             negative_templates: list[str] | None = None, logit_scale: float = 100.0,
                             image_features=None):
    """CLIP-style zero-shot classification: each class embedding is the normalised mean of its prompts'
    embeddings (templates filled with the class name); scores are softmax(logit_scale · cosine) over classes
    (CLIP's 100 unless the protocol states another; CheXzero's pair softmax uses the raw cosine, 1).
    With ``negative_templates`` (CheXzero's positive/negative pair, e.g. "{}" vs "no {}"), each class scores
    softmax over (positive, negative) similarities independently, and the scores are then normalised over
    classes. Defaults are CLIP's normalisation constants. ``image_features`` skips the image tower (cached)."""
    import torch

    model = prepare_model(model, device)
    with torch.inference_mode():
        text = torch.stack([_text_embedding(model, tokenizer, [t.format(c) for t in templates], device)
                            for c in classes]).cpu()
        neg = (torch.stack([_text_embedding(model, tokenizer, [t.format(c) for t in negative_templates], device)
                            for c in classes]).cpu() if negative_templates else None)
    img = image_features if image_features is not None else features(
        model, images, batch_size=batch_size, device=device, mean=mean, std=std, size=size, resize=resize, crop=crop,
        log=log)
    img = torch.nn.functional.normalize(torch.as_tensor(img, dtype=torch.float32), dim=-1)
    if neg is None:
        return torch.softmax(logit_scale * img @ text.T, dim=1).numpy()
    pair = torch.stack([img @ text.T, img @ neg.T], dim=-1)  # N × C × 2
    p = torch.softmax(logit_scale * pair, dim=-1)[..., 0]
    return (p / p.sum(1, keepdim=True)).numpy()
