# White Panel: the two commands (SPEC §5) and a few helpers.
# `make run` starts everything on a fresh machine; `make test` runs lint and the suite.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k room -x"
PYTEST_ARGS ?=
# Browser tests drive Debian's Chromium through Playwright (its own browser download fails here).
CHROMIUM := /usr/bin/chromium
# The deployment tests run nginx with deploy/nginx.conf in front of daphne.
NGINX := /usr/sbin/nginx

.PHONY: run test lint format clean venv bench

run: $(VENV)/.installed
	$(BIN)/python -m whitepanel.launch run

test: $(VENV)/.installed $(CHROMIUM) $(NGINX)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m whitepanel.launch test $(PYTEST_ARGS)

# The benchmark (docs/benchmarks.md): starts its own Redis, PostgreSQL database, daphne and
# Celery. The full run rewrites docs/benchmarks.md and docs/img/bench-*.png; BENCH_SCALE=smoke
# (about a minute, tiny sizes) writes to var/bench/ instead.
BENCH_SCALE ?= full
BENCH_OUT ?= $(if $(filter full,$(BENCH_SCALE)),docs,var/bench)
bench: $(VENV)/.installed
	$(BIN)/python -m bench --scale $(BENCH_SCALE) --out $(BENCH_OUT)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Fixes first, then formatting: a fix can leave code that needs reformatting.
format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

venv: $(VENV)/.installed

# The stamp is touched only after a successful install, and is older than
# requirements.txt whenever that changes, so `make` reinstalls only then.
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	touch $@

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; \
	fi

# RUNLEVEL=1: install only, do not start the distribution's nginx service.
$(NGINX):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; \
	else \
		echo "The deployment tests need Debian's nginx: sudo apt-get install nginx" >&2; exit 1; \
	fi

# Test leftovers only: the development database and secret key in var/ stay.
clean:
	rm -rf var/test_* var/celerybeat-wptest-* .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
