# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.phonelstm-installed

.PHONY: demo test lint venv clean

venv: $(STAMP)

# (Re)install when the venv is missing or pyproject.toml changed since it was made.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,lhotse,peer]'
	touch $(STAMP)

# Train and evaluate the embedded default, then decode two real recordings with the shipped model.
demo: $(STAMP)
	$(VENV)/bin/phonelstm-train experiment=demo
	$(PY) -m phonelstm.pretrained

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check phonelstm tests scripts

clean:
	rm -rf exp outputs multirun .pytest_cache
