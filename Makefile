# Frolic — the two commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The recorded traces live in shared/ beside the repo; a lone clone uses its own copy.
TRAFFIC ?= $(if $(wildcard ../shared/traffic/*.txt),../shared/traffic,tests/data/traffic)
DEPS_LAYER := build/layers/deps/python
LOCK := requirements.lock
#: The resolver `make lock` runs; only it, never the install, needs uv.
UV_VERSION := 0.13.9
# aws-cdk-lib runs its constructs in Node; keep it quiet about the Node release line.
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

.PHONY: install lock test lint unit bench demo fuzz openapi layers synth clean chromium

# Every version comes from the lock: the packages with --no-deps (nothing outside the
# lock can slip in), then Frolic itself, built with the lock's setuptools.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Resolve pyproject.toml's requirements (and its build system's) once, for every
# platform and Python from 3.11: run after changing them, and commit requirements.lock.
lock:
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(PYTHON) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' > build/build-requires.in
	build/lock-venv/bin/uv pip compile --quiet --universal --python-version 3.11 --extra dev \
	    --no-header --output-file $(LOCK) pyproject.toml build/build-requires.in

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo
	@# Every function's entry module is called handler: check each on its own.
	@for entry in functions/*/*.py; do $(BIN)/mypy --no-error-summary "$$entry" || exit 1; done

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The browser tests (tests/e2e/test_browser.py) drive Debian's Chromium headless through
# Playwright, which never downloads a browser of its own (`playwright install` is not run).
chromium:
	@[ -n "$$FROLIC_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-headless-shell >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends chromium >/dev/null; }

# axe-core, which the browser tests inject into the pages (tests/e2e/accessibility.py):
# the version package-lock.json pins, installed by npm ci at install time, never at run.
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(AXE)

# Test files spread over every core (pytest-xdist), one file per worker at a time: the
# e2e local stack is process-wide state. Multi-day soaks (marker soak) run in make bench.
PYTEST := $(CDK_ENV) $(BIN)/pytest -n auto --dist loadfile -m "not soak"

# The unit tests alone (tests/unit); make test runs every folder.
unit: $(STAMP)
	$(PYTEST) tests/unit

test: lint $(STAMP) chromium $(AXE)
	$(PYTEST)

bench: $(STAMP)
	$(BIN)/pytest -m soak
	$(BIN)/python bench/pacing.py --traffic-dir $(TRAFFIC) --out docs/bench-pacing.md --readme README.md
	$(BIN)/python bench/dataplane.py --out docs/bench-dataplane.md --readme README.md
	$(BIN)/python bench/capacity.py --out docs/bench-capacity.md --readme README.md
	$(BIN)/python bench/model_check.py --out docs/bench-model-check.md --readme README.md
	$(BIN)/python bench/export.py --out docs/bench-export.md --readme README.md
	$(BIN)/python bench/latency.py --out docs/bench-latency.md --readme README.md

# The local stack, a 3-minute demo game and a crowd of players; exits 0 only when every
# play got its result and reconcile is clean. Charts land in out/demo/.
demo: $(STAMP)
	$(BIN)/frolic demo --port 8000 --out out/demo

# The Lambda dependencies layer: arm64 wheels from PyPI, no Docker.
$(DEPS_LAYER): pyproject.toml $(LOCK) infra/build_layer.py | $(STAMP)
	$(BIN)/python infra/build_layer.py

layers: $(DEPS_LAYER)

# Writes cdk.out/ offline: no Docker, no AWS credentials.
synth: $(STAMP) $(DEPS_LAYER)
	$(CDK_ENV) $(BIN)/python infra/app.py

# The REST API fuzzed from docs/openapi.json on the local stack (a short run is in make test).
fuzz: $(STAMP)
	FROLIC_FUZZ_EXAMPLES=300 $(BIN)/pytest -o addopts="" -q tests/e2e/test_fuzz.py

openapi: $(STAMP)
	$(BIN)/python -m frolic_tools.openapi > docs/openapi.json
	$(BIN)/python -m frolic_tools.event_schema > docs/events.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .grimp_cache .import_linter_cache .hypothesis out cdk.out build
