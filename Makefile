# Two commands for a fresh machine:  make run   |   make test
# Both create .venv on first use. torch is installed first from the local CPU build
# (a plain install of sentence-transformers would pull a multi-GB CUDA torch). The other
# packages at the versions of constraints.txt, those the quality figures were measured with.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-citebot

.PHONY: run test setup lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/citebot

lint: $(STAMP)
	$(BIN)/ruff check index bot tests benchmarks training
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
