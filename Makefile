# Every target installs what it needs first (`setup` is idempotent and fast when done).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup demo test lint bench bench-scale eval index clean serve screenshots wheel-check

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

index: setup  ## build (or incrementally update) the demo index from corpus/
	$(BIN)/rag ingest corpus

# The port is checked first: a busy one fails in a second, before minutes of indexing.
demo: setup  ## install, build the demo index, open the app on http://127.0.0.1:7860 (PORT=8000 to change)
	@$(BIN)/python -m rag.ports 127.0.0.1 $(PORT)
	$(MAKE) --no-print-directory index
	$(BIN)/rag serve --host 127.0.0.1 --port $(PORT)

serve: setup  ## the app over the current index (HOST/PORT/AUTH_FILE to change; non-loopback needs auth)
	$(BIN)/rag serve --host $(HOST) --port $(PORT) $(if $(AUTH_FILE),--auth-file $(AUTH_FILE))

screenshots: index  ## screenshots of each tab (1280 and 420 px wide) into docs/screenshots/
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

test: setup  ## the whole test suite, offline
	$(BIN)/pytest -q

# The wheel in a fresh venv outside the checkout: prompts, UI assets and data must ship in it.
wheel-check: setup  ## build the wheel, install it elsewhere, run ingest/ask/serve from there
	$(BIN)/python scripts/wheel_check.py

lint: setup
	$(BIN)/ruff check rag tests eval ui
	$(BIN)/ruff format --check rag tests eval ui
	$(BIN)/mypy rag

bench: index  ## speed and memory figures (prints, asserts nothing)
	$(BIN)/python eval/bench.py

# Synthetic indexes cached under index/bench-scale/ (REBUILD=1 builds them anew).
SIZES ?= 10k,100k,1M
bench-scale: setup  ## build time, disk, cold start, RSS, latency vs size: table + plot in eval/runs/
	$(BIN)/python eval/bench_scale.py --sizes $(SIZES) $(if $(REBUILD),--rebuild)

# Floors a little under the figures recorded in the README: `make eval` fails on a regression.
EVAL_FLOORS = --require recall=0.85 --require mrr=0.80 --require key_hit=0.78 \
	--require abstained_near_miss=0.80 --require abstained_off_topic=0.85 \
	--require false_refusal=0.05 --require citation_validity=1.0 --require attribution=1.0 \
	--require author_coverage=0.90 --require rewrite_correct=0.90

eval: index  ## the demo eval set: table, run folder with report.html, exit 1 below the floors
	$(BIN)/rag eval eval/questions.jsonl $(EVAL_FLOORS)

clean:
	rm -rf index/*/ .pytest_cache .mypy_cache .ruff_cache
