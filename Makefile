SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := setup

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# pip runs again only when one of these is newer than the stamp.
STAMP  := $(VENV)/.installed
REQS   := requirements.txt requirements-dev.txt

.PHONY: setup test run clean bench messages

## setup: create .venv, install requirements-dev.txt and compile the translations
##        (each step a no-op when up to date)
setup: $(STAMP) messages

## messages: compile locale/*/LC_MESSAGES/django.po into .mo (only those that changed)
messages: $(STAMP)
	$(PY) bin/compile-messages

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

## bench: the benchmark suite on a throwaway PostgreSQL; one table, also in
##        bench/results/latest.txt (BENCH_ARGS=--quick for a smoke run, --help for all)
BENCH_STAMP := $(VENV)/.bench-installed

bench: setup $(BENCH_STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

$(BENCH_STAMP): bench/requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r bench/requirements.txt
	touch $@

## clean: remove local state and the virtualenv
clean:
	rm -rf var/ $(VENV)
