# Every target sets up its own virtualenv (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint bench demo venv clean vectors wiredump

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check src tests bench tools
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/codec.py
	$(PY) bench/routing.py --sizes 100000,1000000 --runs 3
	$(PY) bench/api.py --routes 1000000 --add 100000 --runs 3

# Two gracebgpd daemons on loopback with the embedded default configuration.
demo: $(STAMP)
	$(PY) -m gracebgp.tools.demo

# The BGP sessions captured between real gobgpd, BIRD and FRR peers, decoded.
wiredump: $(STAMP)
	$(PY) -m gracebgp.tools.wiredump tests/vectors/peers/*.jsonl --summary

# Re-capture the golden vectors from real peers (root, network namespaces).
vectors: $(STAMP)
	$(PY) tools/capture_vectors.py --out tests/vectors/peers

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
