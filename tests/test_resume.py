"""Fault tolerance and determinism: SIGKILL mid-epoch, resume, and get the uninterrupted run bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, make_tiny_config

#: A run of 2 epochs x 6 optimizer steps (6 windows, batch 1), checkpointed every 3 steps:
#: checkpoint-3 falls in the middle of the first epoch.
RUN = ["train.batch_size=1", "train.epochs=2", "train.save_steps=3", "train.save_total_limit=10", "train.logging_steps=1", "train.warmup_ratio=0.0"]
#: The interrupted run is killed while training step 5 (after checkpoint-3, mid-epoch).
KILL_AT_STEP = 4

#: ``python SCRIPT OUT_ROOT MODEL PAUSE_STEP [overrides]``: the fit job on the tiny config; at
#: PAUSE_STEP it writes OUT_ROOT/paused and blocks until the test kills it.
SCRIPT = '''
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from transformers import TrainerCallback
from conftest import make_tiny_config
from train.fit import fit

out, model, pause = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])

class Pause(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == pause:
            (out / "paused").write_text(str(state.global_step))
            time.sleep(600)

fit(make_tiny_config(out, model, *sys.argv[4:]), callbacks=[Pause()] if pause else [])
'''


def _start(script: Path, out: Path, model: Path, pause: int, *overrides: str) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    log = open(out / "log.txt", "w")
    return subprocess.Popen([sys.executable, str(script), str(out), str(model), str(pause), *RUN, *overrides], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen, out: Path) -> None:
    assert proc.wait(timeout=300) == 0, (out / "log.txt").read_text()[-5000:]


def _weights(path: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(path / "model.safetensors"))


def _history(run: Path) -> list[dict]:
    """The run's log history without wall-clock fields."""
    info = json.loads((run / "run_info.json").read_text())
    return [{k: v for k, v in h.items() if "runtime" not in k and "per_second" not in k} for h in info["log_history"]]


def _same_weights(a: dict, b: dict) -> bool:
    import numpy as np

    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    """An uninterrupted run, and a run SIGKILLed mid-epoch then resumed with ``train.resume=true`` (both seed 42)."""
    root = tmp_path_factory.mktemp("resume")
    script = root / "fit_until.py"
    script.write_text(SCRIPT.format(tests=str(REPO / "tests")))
    full, killed = root / "uninterrupted", root / "killed"
    reference = _start(script, full, tiny_model_dir, 0)  # the two first runs share the 2 cores (1 thread each)
    victim = _start(script, killed, tiny_model_dir, KILL_AT_STEP)
    deadline = time.time() + 300
    while not (killed / "paused").exists():
        assert victim.poll() is None and time.time() < deadline, (killed / "log.txt").read_text()[-5000:]
        time.sleep(0.1)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    state_at_kill = sorted(p.name for p in (killed / "run").iterdir())
    # a checkpoint torn by a kill while it was being written (trainer_state.json cut short) must be skipped
    torn = killed / "run" / "checkpoint-5"
    torn.mkdir()
    (torn / "trainer_state.json").write_text('{"global_step": 5, "log_hist')
    _finish(reference, full)
    resumed = _start(script, killed, tiny_model_dir, 0, "train.resume=true")
    _finish(resumed, killed)
    return full / "run", killed / "run", victim.returncode, state_at_kill


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(runs):
    full, resumed, killed_rc, state_at_kill = runs
    assert killed_rc == -signal.SIGKILL
    assert "checkpoint-3" in state_at_kill and "checkpoint-6" not in state_at_kill and "best" not in state_at_kill  # killed mid-epoch 1
    info = json.loads((resumed / "run_info.json").read_text())
    assert info["resumed_from"].endswith("checkpoint-3")
    # bitwise: the final weights, the best checkpoint, and every logged loss and validation metric
    assert _same_weights(_weights(full / "checkpoint-12"), _weights(resumed / "checkpoint-12"))
    assert _same_weights(_weights(full / "best"), _weights(resumed / "best"))
    a, b = _history(full), _history(resumed)
    # The Trainer's closing summary averages the loss over the steps this process ran
    # (9 of 12 after the resume), so its train_loss differs; every per-step entry is equal.
    assert a[:-1] == b[:-1]
    assert [h for h in a if "eval_micro_f1" in h] == [h for h in b if "eval_micro_f1" in h] and len([h for h in a if "eval_micro_f1" in h]) == 4
    assert {k: v for k, v in a[-1].items() if k != "train_loss"} == {k: v for k, v in b[-1].items() if k != "train_loss"}
    assert json.loads((full / "run_info.json").read_text())["best_validation_strict_micro_f1"] == info["best_validation_strict_micro_f1"]


@pytest.mark.slow
def test_same_seed_gives_identical_metrics(tmp_path, tiny_model_dir):
    """Two in-process runs with the same seed: identical losses, metrics and weights (CPU)."""
    from train.fit import fit

    results = []
    for name in ("a", "b"):
        cfg = make_tiny_config(tmp_path / name, tiny_model_dir, "train.epochs=2", "train.warmup_ratio=0.0")
        results.append(fit(cfg))
    assert _history(tmp_path / "a" / "run") == _history(tmp_path / "b" / "run")
    assert results[0].best_f1 == results[1].best_f1 or (results[0].best_f1 != results[0].best_f1 and results[1].best_f1 != results[1].best_f1)
    assert _same_weights(_weights(results[0].best_dir), _weights(results[1].best_dir))


def test_latest_checkpoint_skips_torn_ones(tmp_path):
    from train.distributed import checkpoint_step, latest_checkpoint

    assert latest_checkpoint(tmp_path / "none") is None and latest_checkpoint(tmp_path) is None
    for step, state in [(3, {"global_step": 3}), (10, {"global_step": 10}), (12, None), (15, {"global_step": 14})]:
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        if state is not None:
            (d / "trainer_state.json").write_text(json.dumps(state))
    (tmp_path / "checkpoint-20").mkdir()
    (tmp_path / "checkpoint-20" / "trainer_state.json").write_text('{"global_st')
    (tmp_path / "best").mkdir()
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-10"  # not 3 (older), 12 (no state), 15 (wrong step), 20 (torn)
    assert checkpoint_step(tmp_path / "checkpoint-3") == 3 and checkpoint_step(tmp_path / "best") is None


def test_fresh_run_clears_old_checkpoints_and_resume_without_one_starts_over(tmp_path, caplog):
    from train.fit import _prepare_output_dir

    run = tmp_path / "run"
    (run / "checkpoint-7").mkdir(parents=True)
    (run / "checkpoint-7" / "trainer_state.json").write_text('{"global_step": 7}')
    cfg = make_tiny_config(tmp_path, tmp_path, "train.resume=true")
    assert _prepare_output_dir(cfg, run) == str(run / "checkpoint-7")
    cfg.train.resume = False
    assert _prepare_output_dir(cfg, run) is None and not (run / "checkpoint-7").exists()
    cfg.train.resume = True
    with caplog.at_level("WARNING"):
        assert _prepare_output_dir(cfg, run) is None
    assert "no complete checkpoint" in caplog.text
