# Two commands on a fresh clone:  `make demo` (the demo dataset in the browser UI) and `make test`.
PYTHON ?= python3
PIP = $(PYTHON) -m pip

.PHONY: install install-test browser ui-check lint test demo bench

install:
	# torch first, pinned to the CPU build this project is tested with, so nothing pulls a CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .

install-test: install
	$(PIP) install -q -e ".[test]"

browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)

ui-check:
	@if [ -f web/check_build.sh ]; then bash web/check_build.sh; else echo "no web UI source to check"; fi

lint:
	$(PYTHON) -m ruff check src tests benchmarks scripts
	$(PYTHON) -m mypy
	$(PYTHON) scripts/import_graph.py --check

test: install-test browser ui-check lint
	$(PYTHON) -m pytest -q

demo: install
	amplio demo

bench: install
	$(PIP) install -q -e ".[bench]"
	$(PYTHON) benchmarks/ingest.py
	$(PYTHON) benchmarks/decode.py
	$(PYTHON) benchmarks/gaps.py --fill
	$(PYTHON) benchmarks/gaps.py --reference
	$(PYTHON) benchmarks/gaps.py --reference --held-out
	$(PYTHON) benchmarks/reference_fill.py
	$(PYTHON) benchmarks/augment.py
