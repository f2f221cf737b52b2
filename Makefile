# condense-book: `make book` builds the executable book, `make test` checks it.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INSTALLED := $(VENV)/.installed
HTML := _build/html

# The offline datasets (see README.md); `make CONDENSE_DATA=/some/folder` overrides.
CONDENSE_DATA ?= $(wildcard $(abspath $(CURDIR)/../shared/data))
ifneq ($(CONDENSE_DATA),)
export CONDENSE_DATA
endif
# Results of the training the book does: the build fills it, the tests reuse it.
export CONDENSE_CACHE := $(CURDIR)/_build/results
# Agg for the tests. Not for the book build: ipykernel picks its inline backend
# only when MPLBACKEND is unset, and with Agg the book would have no figures.
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
export PATH := $(BIN):$(PATH)
export TIMEFORMAT := [took %0Rs]

.PHONY: book test unit lint nbval bench venv assets strip clean paper paper-check

book: $(INSTALLED) assets
	@echo "== building the book (executes every notebook)"
	time env -u MPLBACKEND jupyter-book build . --all -W -n --keep-going
	@echo "== open file://$(CURDIR)/$(HTML)/index.html"

# The build executes every chapter once; the tests then check the executed copies
# (tests/test_notebooks.py) instead of executing them a second time.
test: lint book
	@echo "== unit tests, doctests, the executed chapters and the built pages in a browser"
	time python -m pytest tests condense_lib --doctest-modules

# The paper's own settings: fill the cache at the paper scale on a GPU (every figure; see
# `python -m condense_lib list --scale paper --estimate --device cuda` for how long), then
# build the book from it. DEVICE=cpu runs it on a CPU (days).
DEVICE ?= cuda
paper: $(INSTALLED) assets
	@echo "== training every figure at the paper scale on $(DEVICE) (cached in $(CONDENSE_CACHE))"
	time python -m condense_lib run all --scale paper --device $(DEVICE)
	@echo "== building the book at the paper scale"
	time env -u MPLBACKEND CONDENSE_SCALE=paper jupyter-book build . --all -W -n --keep-going

# The figures a CPU can afford at the paper scale, checked against the chapters' claims
# (tests/test_paper_scale.py, marker `paper`, not part of `make test`): an hour or more.
paper-check: $(INSTALLED)
	time python -m pytest tests/test_paper_scale.py -m paper -v

# Library tests and doctests only: seconds, no book.
unit: lint
	time python -m pytest tests condense_lib --doctest-modules --ignore=tests/test_browser.py --ignore=tests/test_notebooks.py

lint: $(INSTALLED)
	ruff check condense_lib tests tools benchmarks

# Every chapter executed by nbval, outside the book build (for a chapter edited on its own).
nbval: $(INSTALLED)
	time python -m pytest book/*.ipynb --nbval-lax --nbval-cell-timeout=600

# The trainer against a plain PyTorch loop, and the book's execution time; writes
# benchmarks/results.md, which the book's appendix shows. Not part of `make test`.
bench: $(INSTALLED)
	time python benchmarks/bench.py --book

venv: $(INSTALLED)

$(INSTALLED): requirements.txt pyproject.toml
	@echo "== installing into $(VENV)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	time $(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -e . --no-deps
	touch $@

assets:
	time bash tools/fetch_assets.sh

strip: $(INSTALLED)
	nbstripout book/*.ipynb

clean:
	rm -rf _build
