# `make test`: create the virtualenv, install the pinned requirements, type-check and
# run every test. `make plan STACK=prod [DIFF=old/inventory.json]`: the offline plan.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev
STAMP := $(VENV)/.installed

.PHONY: test typecheck pytest plan schema clean

# Reinstall whenever a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: typecheck pytest

typecheck: $(STAMP)
	$(PY) -m pyright

pytest: $(STAMP)
	$(PY) -m pytest

plan: $(STAMP)
	$(PY) -m tools.plan $(STACK) $(if $(DIFF),--diff $(DIFF))

# Regenerate the stack-file JSON schema after changing a model in stacks/.
schema: $(STAMP)
	$(PY) -m stacks.config --schema

clean:
	rm -rf build .pytest_cache
