# stsdesk — `make run` (the app on the embedded demo emulator) and `make test` (the whole suite) are the two
# commands a fresh machine needs. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench bench-smoke fuzz package package-test clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench,package]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/stsdesk --demo

# lint, types, the whole suite under coverage (CLI and emulator subprocesses included: coverage's .pth hook,
# installed into the venv with the `test` extra), the coverage total and its floor (tools/coverage_floor.py).
test: $(STAMP)
	bash tools/test.sh

lint: $(STAMP)
	$(BIN)/ruff check stsdesk tests benchmarks packaging

typecheck: $(STAMP)
	$(BIN)/mypy --strict stsdesk

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# every benchmark once, small, with no targets enforced: the benchmarks still run (CI calls it after `make test`)
bench-smoke: $(STAMP)
	$(BIN)/python -m benchmarks --smoke

fuzz: $(STAMP)
	STSDESK_FUZZ_EXAMPLES=5000 bash tools/test.sh -m fuzz

package: $(STAMP)
	bash packaging/build.sh

package-test: package
	bash packaging/smoke_test.sh

# packaging/requirements.lock: the runtime dependencies and PyInstaller, pinned with sha256 hashes; build.sh
# installs from it with --require-hashes. Keeps existing pins; `make lock LOCK_FLAGS=--upgrade` moves them all.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links $(LOCK_FLAGS) --output-file packaging/requirements.lock \
	  pyproject.toml packaging/bundle-tools.in

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .coverage-data
