# Two commands matter: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app voucher
# Browser tests drive Debian's Chromium through Playwright; no browser is downloaded.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The app's own default is a SQLite file under instance/; `make run` uses it explicitly.
RUN_DATABASE_URL ?= sqlite:///$(CURDIR)/instance/voucher.sqlite3

.PHONY: run test browser install install-dev lint format extract update-translations compile-translations migrate demo clean node assets wrk bench bench-full

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

compile-translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d translations --statistics 2>&1 | tail -n 2

extract: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output --project conciliazione-voucher .

update-translations: extract
	$(BIN)/pybabel update -i translations/messages.pot -d translations --ignore-obsolete

migrate: $(VENV)/.installed
	mkdir -p instance
	VOUCHER_ENV=dev VOUCHER_DATABASE_URL=$(RUN_DATABASE_URL) $(FLASK) db upgrade

demo: migrate
	VOUCHER_ENV=dev VOUCHER_DATABASE_URL=$(RUN_DATABASE_URL) $(FLASK) demo

run: compile-translations demo
	VOUCHER_ENV=dev VOUCHER_DATABASE_URL=$(RUN_DATABASE_URL) $(FLASK) run --host 127.0.0.1 --port 5000

browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Node's tools (package.json, pinned by package-lock.json), project-local: axe-core for the
# accessibility tests, PurgeCSS for `make assets`, Lighthouse for `make bench`. Node and
# npm come from Debian when missing.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "installing Debian's nodejs and npm"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node: node_modules/.installed

# The UI kit trimmed to the classes the templates use (voucher/static/css/kit.min.css, a
# committed file): run after adding classes; tests/test_static.py says when.
assets: node
	node tools/build-kit.mjs

wrk:
	@command -v wrk >/dev/null || { echo "installing Debian's wrk for the benchmark"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# The benchmark (bench/run.py): not part of `make test`. Set VOUCHER_BENCH_DATABASE_URL to
# run it on PostgreSQL too (that database's public schema is dropped and rebuilt).
bench: $(VENV)/.installed-dev compile-translations browser node wrk
	CHROME_PATH=$(CHROMIUM) $(BIN)/python -m bench

bench-full: $(VENV)/.installed-dev compile-translations browser node wrk
	CHROME_PATH=$(CHROMIUM) $(BIN)/python -m bench --full

test: $(VENV)/.installed-dev compile-translations browser node
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache node_modules bench/results
	find translations -name '*.mo' -delete
