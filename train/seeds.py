"""Multi-seed runs: one model per seed, mean ± standard deviation of the headline metrics, best seed exported.

``make train SEEDS="13 42 7"`` (config ``train.seeds``) runs, for each seed ``n``, the fit
job into ``<train.output_dir>/seed-<n>/`` and the evaluate job into
``<eval.reports_dir>/seeds/seed-<n>/``. Then it

- writes ``<eval.reports_dir>/seeds.json`` and ``seeds.md``: per data set, every headline
  number (:func:`train.comparison.headline`) per seed, its mean and its sample standard
  deviation (``ddof=1``; 0.0 with one seed);
- picks the seed with the best validation strict micro-F1 (ties: the earlier seed in
  ``train.seeds``), copies its reports to ``<eval.reports_dir>/<dataset>/`` and exports its
  model; the bundle's ``run_info.json`` and model card name the chosen seed and carry the
  mean ± std.

Seed-to-seed spread measures training variance only; the bootstrap intervals of each
report measure test-set sampling variance. Both matter (Reimers & Gurevych, "Reporting
Score Distributions Makes a Difference", EMNLP 2017).
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .comparison import headline
from .config import Config

log = logging.getLogger(__name__)

SEEDS_FILE = "seeds.json"
#: The split the exported seed is chosen on.
SELECTION_SPLIT = "validation"


def seed_config(cfg: Config, seed: int) -> Config:
    """A copy of ``cfg`` for one seed: ``train.seed`` set, run and reports under ``seed-<n>/`` subfolders."""
    c = copy.deepcopy(cfg)
    c.train.seed = seed
    c.train.output_dir = str(Path(cfg.train.output_dir) / f"seed-{seed}")
    c.eval.reports_dir = str(Path(cfg.eval.reports_dir) / "seeds" / f"seed-{seed}")
    return c


def summarise_seeds(per_seed: dict[int, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every headline number of every data set.

    Args:
        per_seed: seed -> dataset -> report dict (:func:`train.scoring.evaluate`'s return).

    Returns:
        ``{"seeds": [...], "std": "sample (ddof=1)", "datasets": {dataset: {metric: {"mean",
        "std", "min", "max", "values": {seed: value}}}}}``, scores on the 0-1 scale; a data set
        is summarised over the seeds that scored it.
    """
    seeds = list(per_seed)
    names = list(dict.fromkeys(n for r in per_seed.values() for n in r))
    out: dict[str, Any] = {"seeds": seeds, "std": "sample standard deviation (ddof=1); 0.0 for a single seed", "datasets": {}}
    for name in names:
        rows = {s: headline(per_seed[s][name]) for s in seeds if name in per_seed[s]}
        keys = list(dict.fromkeys(k for h in rows.values() for k in h))
        stats = {}
        for k in keys:
            vals = {s: h[k] for s, h in rows.items() if k in h}
            v = np.array(list(vals.values()), dtype=float)
            stats[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "min": float(v.min()), "max": float(v.max()), "values": {str(s): x for s, x in vals.items()}}
        out["datasets"][name] = stats
    return out


def best_seed(per_seed: dict[int, dict[str, dict[str, Any]]], split: str = SELECTION_SPLIT) -> int:
    """The seed with the highest strict micro-F1 on ``split`` (first such seed on ties).

    Raises:
        ValueError: no seed has a report for ``split``.
    """
    scored = [(r[split]["strict"]["micro_f1"], -k, s) for k, (s, r) in enumerate(per_seed.items()) if split in r]
    if not scored:
        raise ValueError(f"no seed was scored on '{split}': add it to eval.splits to select a seed")
    return max(scored)[2]


def seeds_markdown(summary: dict[str, Any], chosen: int) -> str:
    """Render :func:`summarise_seeds` as Markdown: per data set, mean ± std and the value of each seed (points)."""
    seeds = summary["seeds"]
    lines = [
        "# Multi-seed run",
        "",
        f"Seeds {', '.join(map(str, seeds))}; scores in points (0-100), mean ± sample standard deviation over seeds. "
        f"Exported: seed {chosen} (best {SELECTION_SPLIT} strict micro-F1).",
    ]
    for name, stats in summary["datasets"].items():
        lines += ["", f"## {name}", "", "| metric | mean ± std | " + " | ".join(f"seed {s}" for s in seeds) + " |", "| --- | ---: |" + " ---: |" * len(seeds)]
        for k, v in stats.items():
            vals = " | ".join(f"{100 * v['values'][str(s)]:.1f}" if str(s) in v["values"] else "–" for s in seeds)
            lines.append(f"| {k} | {100 * v['mean']:.1f} ± {100 * v['std']:.1f} | {vals} |")
    return "\n".join(lines) + "\n"


def run_seeds(cfg: Config, baseline: str | Path | None = None) -> Path:
    """Train and evaluate one model per seed of ``cfg.train.seeds``; export the best on validation.

    Args:
        cfg: the run config (``train.seeds`` non-empty).
        baseline: optional previous ``metrics.json`` passed to each evaluation.

    Returns:
        The exported bundle directory.

    Raises:
        ValueError: ``train.seeds`` is empty, or validation is not among ``eval.splits``.
    """
    from .export import export
    from .fit import fit
    from .scoring import evaluate

    if not cfg.train.seeds:
        raise ValueError("train.seeds is empty: use the single-seed run")
    per_seed: dict[int, dict[str, dict[str, Any]]] = {}
    runs = {}
    for seed in cfg.train.seeds:
        c = seed_config(cfg, seed)
        log.info("seed %d: training into %s", seed, c.train.output_dir)
        result = fit(c)
        per_seed[seed] = evaluate(c, model_dir=result.best_dir, baseline=baseline)
        runs[seed] = (c, result)
    chosen = best_seed(per_seed)
    summary = summarise_seeds(per_seed)
    summary["selected_seed"] = chosen
    summary["selection"] = f"best {SELECTION_SPLIT} strict micro-F1"
    reports = Path(cfg.eval.reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / SEEDS_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (reports / "seeds.md").write_text(seeds_markdown(summary, chosen), encoding="utf-8")
    best_cfg, best = runs[chosen]
    for item in Path(best_cfg.eval.reports_dir).iterdir():  # the chosen seed's reports become the run's reports
        target = reports / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    info_path = Path(best_cfg.train.output_dir) / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info["multi_seed"] = {
        "seeds": list(cfg.train.seeds),
        "selected_seed": chosen,
        "selection": summary["selection"],
        "mean_std": {name: {k: [v["mean"], v["std"]] for k, v in stats.items() if "micro" in k} for name, stats in summary["datasets"].items()},
    }
    info_path.write_text(json.dumps(info, indent=2, default=str) + "\n")
    log.info("seeds %s: exporting seed %d (validation strict micro-F1 %.4f)", cfg.train.seeds, chosen, per_seed[chosen][SELECTION_SPLIT]["strict"]["micro_f1"])
    export_cfg = copy.deepcopy(best_cfg)
    export_cfg.eval.reports_dir = cfg.eval.reports_dir  # the card and metrics.json read the run's reports
    return export(export_cfg, source=best.best_dir)
