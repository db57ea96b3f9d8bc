# acsdet: the two commands of the README.
#   make setup   create .venv and install the pinned stack (builds mmcv once, then cached)
#   make test    run the whole test suite (slow end-to-end tests included)
PY ?= .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup test test-fast

setup:
	bash setup.sh

test:
	$(PY) -m pytest tests --durations=15 $(PYTEST_ARGS)

# everything except the end-to-end runs marked slow
test-fast:
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)
