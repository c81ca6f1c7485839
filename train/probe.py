"""Linear-probe initialisation of the classification head (the "LP" of LP-FT).

Fine-tuning an encoder with a randomly initialised head first spends many steps
predicting only ``O`` (event tokens are ~2% of tokens) while the random head's
gradients distort the pretrained features. LP-FT (Kumar et al., "Fine-Tuning can
Distort Pretrained Features and Underperform Out-of-Distribution", ICLR 2022)
first fits the head on frozen features, then fine-tunes everything. Here the
probe is a full-batch AdamW fit of ``model.classifier`` on the encoder's
last-layer features of every labelled training token (dropout off), which costs
one inference pass over the training windows.
"""

from __future__ import annotations

import logging
from typing import Any

from .labels import IGNORE_INDEX

log = logging.getLogger(__name__)

#: At most this many labelled tokens feed the probe (a uniform sample beyond it,
#: so label priors are kept); 300k x 384 fp32 features is about 460 MB.
MAX_PROBE_TOKENS = 300_000


def fit_linear_probe(model: Any, windows: Any, collator: Any, steps: int = 100, lr: float = 1.0e-2,
                     batch_size: int = 32, seed: int = 0) -> dict[str, float]:
    """Initialise ``model.classifier`` by logistic regression on frozen encoder features.

    Args:
        model: a ``*ForTokenClassification`` model with a linear ``classifier`` and a ``base_model``.
        windows: a dataset of model inputs with ``labels`` (``-100`` = not scored).
        collator: pads a list of rows into tensors (``DataCollatorForTokenClassification``).
        steps: full-batch AdamW steps on the head.
        lr: the probe's learning rate.
        batch_size: windows per forward pass while extracting features.
        seed: seeds the token sample when there are more than :data:`MAX_PROBE_TOKENS`.

    Returns:
        ``{"tokens": n, "loss": final cross-entropy, "accuracy": token accuracy}``; empty when the
        model has no linear ``classifier`` (then nothing is changed).
    """
    import torch

    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear):
        log.warning("linear probe skipped: %s has no linear 'classifier'", type(model).__name__)
        return {}
    device = head.weight.device
    was_training = model.training
    model.eval()
    feats, labels = [], []
    names = [c for c in windows.column_names if c != "labels"]
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            rows = windows.select(range(start, min(start + batch_size, len(windows))))
            batch = collator([{k: r[k] for k in names + ["labels"]} for r in rows])
            y = batch.pop("labels")
            h = model.base_model(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state
            keep = y != IGNORE_INDEX
            feats.append(h[keep.to(device)].float().cpu())
            labels.append(y[keep])
    x, y = torch.cat(feats), torch.cat(labels)
    if len(y) > MAX_PROBE_TOKENS:
        idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:MAX_PROBE_TOKENS]
        x, y = x[idx], y[idx]
    probe = torch.nn.Linear(x.shape[1], head.out_features)
    with torch.no_grad():
        probe.weight.copy_(head.weight.float().cpu())
        probe.bias.copy_(head.bias.float().cpu())
    opt = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(probe(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = torch.nn.functional.cross_entropy(probe(x), y).item()
        acc = (probe(x).argmax(-1) == y).float().mean().item()
        head.weight.copy_(probe.weight.to(head.weight.dtype))
        head.bias.copy_(probe.bias.to(head.bias.dtype))
    model.train(was_training)
    log.info("linear probe: %d tokens, loss %.4f, token accuracy %.4f", len(y), final, acc)
    return {"tokens": int(len(y)), "loss": float(final), "accuracy": float(acc)}
