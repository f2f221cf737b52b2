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

.PHONY: book test unit lint nbval bench venv assets strip clean paper paper-check screenshots

# The paper edition: every chapter executed with CONDENSE_SCALE=auto, so that each figure shows
# the paper's own run where results/ ships it (nothing shipped is trained) and the fast one
# elsewhere; the caption of each figure says which.
book: $(INSTALLED) assets
	@echo "== building the book, the paper edition (executes every notebook)"
	time env -u MPLBACKEND CONDENSE_SCALE=auto jupyter-book build . --all -W -n --keep-going
	@echo "== open file://$(CURDIR)/$(HTML)/index.html"

# nbval executes every chapter at the fast scale (training exercised), then the book build
# renders the paper edition from the same results cache (nothing trains twice); the tests then
# check the library and the executed copies of the book (tests/test_notebooks.py).
test: lint nbval book
	@echo "== unit tests, doctests, the shipped runs replayed, the executed chapters and the built pages in a browser"
	time python -m pytest tests condense_lib --doctest-modules

# The shipped results: train the paper's runs (PAPER_RUNS, default every figure) at the paper
# scale on DEVICE (a GPU; DEVICE=cpu for those a CPU affords, see
# `python -m condense_lib list --scale paper --estimate`), copy them into results/ with their
# replay and provenance (`python -m condense_lib ship`), then build the paper edition.
DEVICE ?= cuda
PAPER_RUNS ?= all
paper: $(INSTALLED) assets
	@echo "== training $(PAPER_RUNS) at the paper scale on $(DEVICE) (cached in $(CONDENSE_CACHE))"
	time python -m condense_lib run $(PAPER_RUNS) --scale paper --device $(DEVICE)
	@echo "== shipping them into results/ (manifest, replay of the first epochs)"
	time python -m condense_lib ship $(PAPER_RUNS)
	$(MAKE) book

# The figures a CPU can afford at the paper scale, checked against the chapters' claims
# (tests/test_paper_scale.py, marker `paper`, not part of `make test`): an hour or more.
paper-check: $(INSTALLED)
	time python -m pytest tests/test_paper_scale.py -m paper -v

# Every page of the built book read in Chromium at 1280 px and 390 px (tests/test_browser.py),
# a full-page screenshot of each in _build/screenshots/1280/ and _build/screenshots/390/.
screenshots: $(INSTALLED)
	time python -m pytest tests/test_browser.py -q -p no:cacheprovider
	@echo "== screenshots in $(CURDIR)/_build/screenshots/{1280,390}/"

# Library tests and doctests only: seconds, no book.
unit: lint
	time python -m pytest tests condense_lib --doctest-modules --ignore=tests/test_browser.py --ignore=tests/test_notebooks.py

lint: $(INSTALLED)
	ruff check condense_lib tests tools benchmarks

# Every chapter executed by nbval at the fast scale, outside the book build (part of `make test`).
nbval: $(INSTALLED)
	@echo "== nbval: every chapter executed at the fast scale"
	time env CONDENSE_SCALE=fast python -m pytest book/*.ipynb --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider -q

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
