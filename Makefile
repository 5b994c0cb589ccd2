# Two entry points for a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: venv lint test demo bench bench-disk bench-scale bench-detector bench-provenance bench-matching clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the detector's training extra: this exact release is the CPU build these machines keep on disk
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	# the reference watermark encoder, for tests only; its declared deps would pull in PyTorch
	$(BIN)/pip install --quiet --no-deps invisible-watermark==0.2.0
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

demo: venv
	rm -rf $(DEMO)
	$(BIN)/veriscan demo-evidence $(DEMO)/evidence --list $(DEMO)/known-hashes.csv
	$(BIN)/veriscan lists import $(DEMO)/known-hashes.csv --name demo-shared-list \
	  --source "demo: another unit" --handling "demo only" --library $(DEMO)/lists
	$(BIN)/veriscan case init $(DEMO)/case --name "Demo case" --examiner "demo"
	$(BIN)/veriscan scan $(DEMO)/evidence --case $(DEMO)/case --label demo-phone --custodian "suspect A" \
	  --library $(DEMO)/lists; \
	  rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 1 ] || exit $$rc
	$(BIN)/veriscan export jsonl $(DEMO)/case -o $(DEMO)/case/export.jsonl
	@echo
	@echo "Demo report: $(abspath $(DEMO))/case/report.html"
	@echo "JSONL export: $(abspath $(DEMO))/case/export.jsonl"

bench: venv
	$(BIN)/python bench/throughput.py

# sd-parsers is the comparison baseline: it lives in its own environment, never in .venv
bench-disk: venv
	$(BIN)/python bench/disk.py $(BENCH_ARGS)

# needs the PostgreSQL server on 127.0.0.1:5432 (database test) and starts local Ray clusters
bench-scale: venv
	$(BIN)/python bench/scale.py $(BENCH_ARGS)

bench-detector: venv
	$(BIN)/python bench/detector.py $(BENCH_ARGS)

bench-provenance:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -e . sd-parsers
	.venv-bench/bin/python bench/provenance.py

# threatexchange and faiss-cpu are the comparison baselines: like sd-parsers, never in .venv
bench-matching:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -e . threatexchange faiss-cpu psutil
	.venv-bench/bin/python bench/matching.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-bench $(DEMO) veriscan-case .pytest_cache .mypy_cache .ruff_cache
