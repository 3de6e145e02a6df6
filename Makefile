SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := setup

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# pip runs again only when one of these is newer than the stamp.
STAMP  := $(VENV)/.installed
REQS   := requirements.txt requirements-dev.txt

.PHONY: setup test run clean

## setup: create .venv and install requirements-dev.txt (no-op when up to date)
setup: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Order-only on $(PY): the interpreter symlink's mtime must not force a reinstall.
$(STAMP): $(REQS) | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

## test: the whole suite on SQLite, then on a throwaway PostgreSQL cluster
test: setup
	bin/test-all

## run: migrate, demo account, SMTP sink, queue worker and runserver on 127.0.0.1
run: setup
	bin/run-dev

## clean: remove local state and the virtualenv
clean:
	rm -rf var/ $(VENV)
