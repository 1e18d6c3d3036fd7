# Bulwark: `make run` serves the app with demo data; `make test` runs the checks and tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test venv dev-venv migrate seed lint clean lock

# Installs are locked: every package, transitive ones included, pinned with its SHA-256 (requirements*.txt are
# generated from requirements*.in; see docs/operations.md, "Dependencies"). pip refuses anything else.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PIP) install --quiet --require-hashes -r requirements-dev.txt
	touch $@

lock:
	$(PIP) install --quiet uv
	$(VENV)/bin/uv pip compile requirements.in --generate-hashes --python-version 3.11 -o requirements.txt
	$(VENV)/bin/uv pip compile requirements-dev.in --generate-hashes --python-version 3.11 -o requirements-dev.txt

venv: $(VENV)/.installed
dev-venv: $(VENV)/.installed-dev

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	$(PY) manage.py serve

lint: dev-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

test: dev-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	env -u DATABASE_URL BULWARK_ENV=test $(PY) manage.py makemigrations --check --dry-run --verbosity 0  # models vs migrations; no database needed
	BULWARK_ENV=test $(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var tests/artifacts .pytest_cache .ruff_cache
