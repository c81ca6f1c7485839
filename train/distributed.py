"""Process topology of a run started by ``accelerate launch`` (or ``torchrun``), and checkpoint discovery.

Training runs on every process; everything that writes shared outputs (evaluation
reports, the exported bundle, run metadata) runs on the main process only while the
others wait. In a single-process run (no ``WORLD_SIZE`` > 1 in the environment) every
helper here is a no-op that does not touch ``torch.distributed``.

The launcher configs live in ``configs/accelerate/`` (see the README, "Scaling up").
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Callable, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Folder name of a Trainer checkpoint (``checkpoint-<global step>``).
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
#: Written last by ``Trainer._save_checkpoint``: a checkpoint without a valid one is incomplete.
TRAINER_STATE = "trainer_state.json"


def world_size() -> int:
    """Number of processes of this run (``WORLD_SIZE`` set by the launcher; 1 when not launched)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def _state() -> Any:
    from accelerate import PartialState

    return PartialState()  # the Trainer's state when it exists; otherwise initialised from the launcher's env


def is_main_process() -> bool:
    """True on the process that writes shared outputs (global rank 0); always True in a single-process run."""
    if world_size() <= 1:
        return True
    return bool(_state().is_main_process)


def wait_for_everyone() -> None:
    """Barrier across the run's processes (no-op in a single-process run)."""
    if world_size() > 1:
        _state().wait_for_everyone()


def on_main_process(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run ``fn`` on the main process only; the other processes wait until it is done.

    Returns:
        ``fn``'s result on the main process, ``None`` on the others. If ``fn`` raises on the
        main process, that process exits non-zero and the launcher stops the others.
    """
    result = fn(*args, **kwargs) if is_main_process() else None
    wait_for_everyone()
    return result


def checkpoint_step(path: str | Path) -> int | None:
    """The global step of a *complete* Trainer checkpoint folder, or ``None``.

    A checkpoint is complete when its ``trainer_state.json`` (which the Trainer writes after
    the weights, optimizer, scheduler and RNG states) parses and names the folder's step, so
    a process killed while writing a checkpoint leaves one that is skipped.
    """
    path = Path(path)
    m = CHECKPOINT_RE.match(path.name)
    if not m or not path.is_dir():
        return None
    try:
        state = json.loads((path / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    step = int(m.group(1))
    return step if isinstance(state, dict) and state.get("global_step") == step else None


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step in ``output_dir`` (``None`` if there is none)."""
    out = Path(output_dir)
    if not out.is_dir():
        return None
    found = [(s, p) for p in out.iterdir() if (s := checkpoint_step(p)) is not None]
    return max(found)[1] if found else None
