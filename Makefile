# All set-up happens here: a fresh machine needs only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := .demo/trials.db

.PHONY: demo test lint fuzz bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB) && mkdir -p .demo
	$(BIN)/trialmatch ingest fixtures/trials --db $(DEMO_DB)
	$(BIN)/trialmatch stats --db $(DEMO_DB)
	$(BIN)/trialmatch match fixtures/cases/demo.yaml --db $(DEMO_DB)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -m fuzz

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest.py --compare
	$(BIN)/python bench/refresh.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/criteria.py
	$(BIN)/python bench/clinical.py
	$(BIN)/python bench/match.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/limits.py
	$(BIN)/python bench/accuracy.py

clean:
	rm -rf $(VENV) .demo .pytest_cache
