# Two commands on a fresh clone:  `make demo` (the demo dataset in the browser UI) and `make test`.
#
# Both install into a virtual environment, $(VENV), made with the first Python >= 3.11 found on the
# PATH (python3, python3.13, python3.12, python3.11), so a system Python that refuses installs
# (PEP 668, "externally-managed-environment") is never written to.
#   PYTHON=/path/to/python   make the environment with this interpreter instead
#   VENV=                    no environment: install into PYTHON itself (one you already manage)
#   PYTEST_ARGS="tests/x -x" run part of the suite;  DEMO_ARGS="--no-browser --port 8001" for the demo
#   PIP_FLAGS=-v             see pip's output (default: errors only)
# Delete .venv to remake it with another Python.
VENV ?= .venv
PYTHON_CANDIDATES := python3 python3.13 python3.12 python3.11
PYTEST_ARGS ?=
DEMO_ARGS ?=
# Errors only: pip's warnings (a mirror's missing pages, deprecations) would bury the step lines.
PIP_FLAGS ?= -qq

ifeq ($(origin PYTHON),undefined)
# Run each candidate: a pyenv shim or an old python3 is on the PATH without being usable.
PYTHON := $(shell for p in $(PYTHON_CANDIDATES); do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)
endif

ifeq ($(VENV),)
PY := $(PYTHON)
RUN_ENV :=
else
PY := $(VENV)/bin/python
# As if activated: tests that run `amplio` by name must get this environment's, not another one.
RUN_ENV := PATH="$(abspath $(VENV))/bin:$$PATH"
endif
PIP := $(PY) -m pip

# pip's and npm's own chatter (version nags, root warning, funding) buries the few lines that
# matter on a first run.
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_ROOT_USER_ACTION := ignore
export NPM_CONFIG_UPDATE_NOTIFIER := false
export NPM_CONFIG_FUND := false
export NPM_CONFIG_AUDIT := false

.PHONY: python venv install install-test browser ui-check lint test demo bench

# One line, not a traceback, when no usable Python is there.
define CHECK_PYTHON
@if [ -z "$(PYTHON)" ]; then echo "error: no Python 3.11 or newer found (tried $(PYTHON_CANDIDATES)); install one, or name it: make $(MAKECMDGOALS) PYTHON=/path/to/python3.11" >&2; exit 1; fi
@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 || { echo "error: PYTHON=$(PYTHON) is $$($(PYTHON) -V 2>/dev/null || echo 'not runnable'); Amplio needs Python 3.11 or newer: make $(MAKECMDGOALS) PYTHON=/path/to/python3.11" >&2; exit 1; }
endef

python:
	$(CHECK_PYTHON)

ifeq ($(VENV),)
venv: python
else
venv: $(VENV)/bin/python

$(VENV)/bin/python:
	$(CHECK_PYTHON)
	@echo "==> Making the virtual environment $(VENV) with $(PYTHON) ($$($(PYTHON) -V 2>&1))"
	@out=$$($(PYTHON) -m venv $(VENV) 2>&1) || { rm -rf $(VENV); \
	  case "$$out" in \
	    *ensurepip*|*"No module named venv"*) echo "error: $(PYTHON) cannot make a virtual environment: install its venv module (Debian/Ubuntu: sudo apt-get install python3-venv, or python3.X-venv for another version) and run make again" >&2 ;; \
	    *) echo "$$out" >&2 ;; \
	  esac; exit 1; }
endif

install: venv
	@echo "==> Installing torch 2.13.0, CPU build (about a minute the first time)"
	@# torch first, pinned to the CPU build this project is tested with, so nothing pulls a CUDA build
	@$(PIP) install $(PIP_FLAGS) torch==2.13.0
	@echo "==> Installing Amplio and its dependencies (the first time: about 4 minutes more, compiling llama-cpp-python, with no output meanwhile)"
	@$(PIP) install $(PIP_FLAGS) -e .

install-test: install
	@echo "==> Installing the test tools (pytest, Playwright, ruff, mypy)"
	@$(PIP) install $(PIP_FLAGS) -e ".[test]"

browser: install-test
	@$(PY) scripts/find_browser.py --install

ui-check: install-test
	@echo "==> Checking the shipped UI bundle against web/"
	@if [ -f web/check_build.sh ]; then PYTHON="$(PY)" bash web/check_build.sh; else echo "no web UI source to check"; fi

lint: install-test
	@echo "==> ruff, mypy, import graph"
	$(PY) -m ruff check src tests benchmarks scripts
	$(PY) -m mypy
	$(PY) scripts/import_graph.py --check

test: install-test browser ui-check lint
	@echo "==> Running the tests (the whole suite takes tens of minutes on 2 cores)"
	$(RUN_ENV) $(PY) -m pytest -q $(PYTEST_ARGS)

demo: install
	@echo "==> Starting the demo: the first run embeds the 600 demo prompts and the 4,682-prompt reference set (1-2 minutes on 2 cores), then serves the UI at the URL it prints (http://127.0.0.1:8000 by default; Ctrl-C stops it)"
	@$(RUN_ENV) $(PY) -m amplio demo $(DEMO_ARGS)

bench: install
	$(PIP) install $(PIP_FLAGS) -e ".[bench]"
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/decode.py
	$(PY) benchmarks/gaps.py --fill
	$(PY) benchmarks/gaps.py --reference
	$(PY) benchmarks/gaps.py --reference --held-out
	$(PY) benchmarks/reference_fill.py
	$(PY) benchmarks/augment.py
