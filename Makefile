# acsdet: the two commands of the README.
#   make setup   create .venv and install the pinned stack (builds mmcv once, then cached)
#   make test    check the import rules and lint, then run the whole test suite (slow
#                end-to-end tests included)
#   make lint    only the import rules (import-linter) and lint (ruff)
#   make lock    rewrite requirements/lock.txt from the tested .venv (after changing a pin)
PY ?= .venv/bin/python
BIN ?= $(dir $(PY))
PYTEST_ARGS ?=

.PHONY: setup test test-fast lint lock

setup:
	bash setup.sh

# the dependency rules of pyproject.toml [tool.importlinter] and [tool.ruff]
# (docs/contributing.md, "Dependency rules")
lint:
	$(BIN)lint-imports --no-cache
	$(BIN)ruff check .

test: lint
	$(PY) -m pytest tests --durations=15 $(PYTEST_ARGS)

# everything except the end-to-end runs marked slow
test-fast: lint
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

# the constraints file setup.sh installs from; see docs/install.md, "The lock file"
lock:
	bash tools/misc/refresh_lock.sh
