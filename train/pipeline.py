"""The main job: prepare -> fit -> evaluate -> export, as one function of the config."""

from __future__ import annotations

import logging
from pathlib import Path

from .config import Config, ConfigError
from .distributed import on_main_process, world_size

log = logging.getLogger(__name__)


def run(cfg: Config) -> Path:
    """Train, score and export; returns the exported bundle directory.

    ``fit`` validates and prepares the data itself (cached windows), so preparation is
    not repeated here. Evaluation scores the best model on ``cfg.eval.splits`` before
    export, so the bundle's card and manifest carry the real numbers. With
    ``train.seeds`` set, one model is trained per seed and the best on validation is
    exported (:func:`train.seeds.run_seeds`). Under several processes (``accelerate launch``)
    every process trains; only the main one evaluates and exports while the others wait.
    """
    from .export import export
    from .fit import fit
    from .scoring import evaluate

    if cfg.train.seeds:
        from .seeds import run_seeds

        if world_size() > 1:
            raise ConfigError("config key 'train.seeds': multi-seed runs are single-process; launch them with "
                              "configs/accelerate/cpu_single.yaml or gpu_single_bf16.yaml")
        return run_seeds(cfg)
    result = fit(cfg)

    def evaluate_and_export() -> Path:
        evaluate(cfg, model_dir=result.best_dir)
        return export(cfg, source=result.best_dir)

    # under several processes only the main one writes reports and the bundle; the others wait
    return on_main_process(evaluate_and_export) or Path(cfg.export.model_dir)
