SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := setup

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# pip runs again only when one of these is newer than the stamp.
STAMP  := $(VENV)/.installed
REQS   := requirements.txt requirements-dev.txt

.PHONY: setup test run serve clean bench messages lint deps debian-packages

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

## lint: ruff (rules and formatting), the apps' import layers (import-linter) and the
##       types (mypy with the Django and DRF plugins); configuration in pyproject.toml
# DEBUG=1: mypy's Django plugin loads the settings, which want a SECRET_KEY unless DEBUG.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=1 $(PY) -m mypy
	@# Every type: ignore names its error code and says why on the same line.
	@if git ls-files -z '*.py' | xargs -0 grep -nP 'type: ignore(?!\[[a-z, -]+\]  # \S)'; then \
		echo "lint: write each type: ignore as '# type: ignore[code]  # reason'" >&2; exit 1; fi

## deps: what the tests use from outside PyPI: the Debian packages (installed when run as
##       root, else a warning and those tests skip) and sdks/js's pinned npm dev dependencies
JS_STAMP := sdks/js/node_modules/.installed

deps: debian-packages $(JS_STAMP)

debian-packages:
	bin/install-deps

# npm ci runs only when the lock file changed; without npm, the JavaScript SDK test skips.
# Order-only on the Debian packages: npm is one of them.
$(JS_STAMP): sdks/js/package.json sdks/js/package-lock.json | debian-packages
	@if command -v npm >/dev/null 2>&1; then \
	    echo "npm ci (sdks/js)"; \
	    (cd sdks/js && npm ci --no-audit --no-fund --loglevel=error) && touch $@; \
	else \
	    echo "deps: warning: npm not found; sdks/js/node_modules not installed" >&2; \
	fi

## test: the whole suite on SQLite, then on a throwaway PostgreSQL cluster
test: setup deps
	bin/test-all

## run: migrate, demo account, SMTP sink, queue worker and runserver on 127.0.0.1
run: setup
	bin/run-dev

## serve: the production layout on this machine (bin/serve): DEBUG off, gunicorn with
##        deploy/gunicorn.conf.py, the mail and webhook workers, PostgreSQL from DATABASE_URL
##        (else a trial cluster of its own) and Redis; see docs/deploy.md
serve: setup
	bin/serve

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
