# Every target installs what it needs first (`setup` is idempotent and fast when done).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test lint bench eval index clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

index: setup  ## build (or incrementally update) the demo index from corpus/
	$(BIN)/rag ingest corpus

demo: index  ## install, build the demo index, run an example search
	$(BIN)/rag search "Why has Russia lost influence in the South Caucasus?" -k 3

test: setup  ## the whole test suite, offline
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check rag tests eval ui
	$(BIN)/ruff format --check rag tests eval ui
	$(BIN)/mypy rag

bench: index  ## speed and memory figures (prints, asserts nothing)
	$(BIN)/python eval/bench.py

eval: index  ## retrieval and answer quality on the demo eval set
	$(BIN)/rag eval eval/questions.jsonl

clean:
	rm -rf index/*/ .pytest_cache .mypy_cache .ruff_cache
