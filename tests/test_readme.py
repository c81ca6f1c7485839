"""The README's commands exist: every `make X` is a Makefile target, every `python -m train X` parses."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
MAKE_TARGETS = sorted(set(re.findall(r"^\s*make ([a-z][a-z-]*)", README, re.M)) | set(re.findall(r"`make ([a-z][a-z-]*)", README)))
TRAIN_JOBS = sorted(set(re.findall(r"python -m train ([a-z][a-z-]*)", README)))


def test_readme_names_the_two_commands():
    assert "make train" in README and "make test" in README
    assert "artifacts/model" in README and "artifacts/reports" in README


@pytest.mark.parametrize("target", MAKE_TARGETS)
def test_make_target_exists(target):
    proc = subprocess.run(["make", "-n", target, "INPUT=x.txt"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("job", TRAIN_JOBS)
def test_train_job_exists(job):
    proc = subprocess.run([sys.executable, "-m", "train", job, "--help"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_make_help_lists_only_real_targets():
    out = subprocess.run(["make", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    listed = re.findall(r"make ([a-z-]+)", out)
    assert {"train", "test"} <= set(listed)
    for target in listed:
        assert subprocess.run(["make", "-n", target, "INPUT=x.txt"], cwd=REPO, capture_output=True).returncode == 0, target
