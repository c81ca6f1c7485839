"""The main job: prepare -> fit -> evaluate -> export, as one function of the config."""

from __future__ import annotations

import logging
from pathlib import Path

from .config import Config

log = logging.getLogger(__name__)


def run(cfg: Config) -> Path:
    """Train, score and export; returns the exported bundle directory.

    ``fit`` validates and prepares the data itself (cached windows), so preparation is
    not repeated here. Evaluation scores the best model on ``cfg.eval.splits`` before
    export, so the bundle's card and manifest carry the real numbers.
    """
    from .export import export
    from .fit import fit
    from .scoring import evaluate

    result = fit(cfg)
    evaluate(cfg, model_dir=result.best_dir)
    return export(cfg, source=result.best_dir)
