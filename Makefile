# The two commands of the README: `make demo` and `make test`.
# Each installs what it needs: Debian packages (scripts/install-system.sh) and a
# virtual environment in .venv with zvkdiag and its development extras.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit system venv bench clean dist-windows

system:
	@bash scripts/install-system.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: system $(STAMP)

demo: venv
	$(BIN)/python -m zvkdiag.demo

lint: venv
	$(BIN)/ruff check zvkdiag tests bench notebooks
	$(BIN)/ruff format --check zvkdiag tests bench

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: venv
	$(BIN)/python bench/connect_bench.py
	$(BIN)/python bench/relay_bench.py

# The customer's Windows program, built on Linux under Wine (docs/windows.md); unsigned
dist-windows: system
	$(PYTHON) packaging/windows/build.py --out dist/zvk-quicksupport.exe

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
