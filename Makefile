# leakshield: `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest bench lock clean

install: $(STAMP)

# Reinstalls only when the lock or the project metadata changed.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "leakshield needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: install
	$(BIN)/leakshield serve --host 127.0.0.1 --port 8750

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	@set -e; found=0; for b in bench/*_bench.py; do \
		[ -e "$$b" ] || continue; found=1; echo "== $$b"; $(BIN)/python "$$b"; done; \
		[ $$found = 1 ] || echo "no benchmarks in bench/ yet"

# Regenerates requirements.lock from pyproject.toml (needs the registry).
lock: install
	$(BIN)/uv pip compile pyproject.toml --all-extras --generate-hashes --override requirements-overrides.txt \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
