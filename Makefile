# The commands of the README: `make demo`, `make test` and `make dist`.
# Each installs what it needs: Debian packages (scripts/install-system.sh) and a
# virtual environment in .venv with zvkdiag and its development extras, every
# library at the version and hash the lock file names (`make lock` renews it).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK := requirements/linux-py311.lock
WINLOCK := requirements/windows-py311.lock
# uv only writes the lock; installs use pip with --require-hashes
UV_VERSION := 0.13.9

.PHONY: demo test lint typecheck unit system venv bench clean lock dist dist-linux dist-windows

system:
	@bash scripts/install-system.sh

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Renew the locks: newest releases that pyproject.toml allows, for Linux and Python 3.11,
# runtime + dev + dist extras and the build backend, each with its hashes; then the Windows
# exe's libraries (packaging/windows/requirements.in) for win_amd64, at the Linux lock's
# versions wherever a library is in both.
lock:
	test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q uv==$(UV_VERSION); }
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra dev --extra dist \
	  --upgrade --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o $(LOCK)
	$(BIN)/uv pip compile packaging/windows/requirements.in -c $(LOCK) \
	  --upgrade --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-pc-windows-msvc -o $(WINLOCK)

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

# One-file customer program (PyInstaller): dist/zvk-quicksupport; built in:
# ZVK_RELAY=host[:port] and ZVK_CA_KEY=ca.pub (optional), e.g. make dist ZVK_RELAY=relay.zvk.example
dist-linux: venv
	$(BIN)/python packaging/build_onefile.py

dist: dist-linux dist-windows

bench: venv
	$(BIN)/python bench/connect_bench.py
	$(BIN)/python bench/relay_bench.py

# The customer's Windows program, built on Linux under Wine (docs/windows.md); unsigned;
# ZVK_RELAY and ZVK_CA_KEY baked in as for dist-linux
dist-windows: venv
	$(BIN)/python packaging/windows/build.py --out dist/zvk-quicksupport.exe

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
