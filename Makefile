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

# `make run` installs what production runs (requirements.lock); everything else also needs
# the tests', lint's and the benchmark's packages (requirements-dev.lock). Both are compiled
# from requirements*.txt with every transitive package pinned and hashed: `make lock`.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

# The suite runs in this many processes (pytest-xdist), each test file whole in one of them:
# most of a test's time is spent waiting on sockets, browsers and child processes, not on the
# CPU. Each process is a test run of its own (whitepanel/settings.py, WP_REDIS_PREFIX). The fast
# lane, with no browser, takes four on two cores (2 min 15 s against 3 min 20 s with two).
# 0 runs the suite in this one process.
TEST_WORKERS ?= 2
FAST_WORKERS ?= 4
xdist = $(if $(filter 0,$(1)),,-n $(1) --dist loadfile --no-loadscope-reorder)

# The fast lane: no browser, no fault drills, no live-stack tests (README).
FAST_IGNORE := --ignore=tests/e2e --ignore=tests/faults --ignore=tests/test_bench.py \
	--ignore=tests/test_scale_out.py --ignore=tests/test_run_command.py --ignore=tests/test_api_schema.py \
	--ignore=tests/test_deploy.py --ignore=tests/test_routing.py

# The panel's JavaScript (static/panel/): unit tests of its store and socket modules on
# Node's own test runner, with nothing from npm (docs/architecture.md, The panel).
NODE ?= node
JS_TESTS := static/panel/tests/*.test.mjs

# The languages of the panel, login and admin (issue 24, docs/architecture.md, Languages): the
# catalogs in locale/ (committed) compiled to .mo files (build products, not committed) by Babel,
# pure Python, so no machine needs GNU gettext to build; `make messages` (maintainers, with
# gettext installed) extracts the strings from the source again.
PO_FILES := $(wildcard locale/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)
LANGUAGE_CODES := $(notdir $(wildcard locale/*))

.PHONY: run test test-fast js-test lint format clean venv bench lock messages compile-messages

run: $(RUNTIME) $(MO_FILES)
	$(BIN)/python -m whitepanel.launch run

compile-messages: $(MO_FILES)

%.mo: %.po | $(RUNTIME)
	$(BIN)/python -m babel.messages.frontend compile -i $< -o $@

# Every msgid the templates, Python and the panel's scripts use, merged into each catalog
# (the widget has its own table: static/widget/texts.json). Then translate the new entries:
# operators/tests/test_languages.py fails on any left empty or fuzzy.
MESSAGES_IGNORE := -i 'var/*' -i 'tests/*' -i '*/tests/*' -i 'bench/*' -i 'demo/*' -i 'docs/*' -i 'static/widget/*'
messages: $(RUNTIME)
	$(BIN)/python manage.py makemessages --no-location --no-wrap $(addprefix -l ,$(LANGUAGE_CODES)) -d django $(MESSAGES_IGNORE)
	$(BIN)/python manage.py makemessages --no-location --no-wrap $(addprefix -l ,$(LANGUAGE_CODES)) -d djangojs $(MESSAGES_IGNORE)

test: $(DEV) $(CHROMIUM) $(NGINX) $(MO_FILES)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(NODE) --test $(JS_TESTS)
	$(BIN)/python -m whitepanel.launch test $(call xdist,$(TEST_WORKERS)) $(PYTEST_ARGS)

test-fast: $(DEV) $(MO_FILES)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(NODE) --test $(JS_TESTS)
	$(BIN)/python -m whitepanel.launch test $(call xdist,$(FAST_WORKERS)) $(FAST_IGNORE) $(PYTEST_ARGS)

js-test:
	$(NODE) --test $(JS_TESTS)

# The benchmark (docs/benchmarks.md): starts its own Redis, PostgreSQL database, daphne and
# Celery. The full run rewrites docs/benchmarks.md and docs/img/bench-*.png; BENCH_SCALE=smoke
# (about a minute, tiny sizes) writes to var/bench/ instead.
BENCH_SCALE ?= full
BENCH_OUT ?= $(if $(filter full,$(BENCH_SCALE)),docs,var/bench)
bench: $(DEV)
	$(BIN)/python -m bench --scale $(BENCH_SCALE) --out $(BENCH_OUT)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Fixes first, then formatting: a fix can leave code that needs reformatting.
format: $(DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

venv: $(DEV)

# Each stamp is touched only after a successful install, and is older than its lock
# whenever that changes, so `make` reinstalls only then.
$(RUNTIME): requirements-pip.lock requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --require-hashes -r requirements-pip.lock
	$(BIN)/pip install --require-hashes -r requirements.lock
	touch $@

$(DEV): requirements-dev.lock $(RUNTIME)
	$(BIN)/pip install --require-hashes -r requirements-dev.lock
	touch $@

# Compile both locks again from requirements*.txt (Python 3.11, Linux; uv from the dev lock).
# The dev lock keeps the runtime lock's pins, so what the tests run is what production runs.
# `make lock LOCK_ARGS=--upgrade` moves the unpinned (transitive) packages to their newest versions.
LOCK_ARGS ?=
UV_COMPILE := $(BIN)/uv pip compile $(LOCK_ARGS) --generate-hashes --python-version 3.11 --python-platform linux --no-header -q
lock: $(DEV)
	$(UV_COMPILE) requirements-pip.txt -o requirements-pip.lock
	$(UV_COMPILE) requirements.txt -o requirements.lock
	$(UV_COMPILE) requirements-dev.txt -c requirements.lock -o requirements-dev.lock

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
