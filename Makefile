# Frolic — the two commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The recorded traces live in shared/ beside the repo; a lone clone uses its own copy.
TRAFFIC ?= $(if $(wildcard ../shared/traffic/*.txt),../shared/traffic,tests/data/traffic)
DEPS_LAYER := build/layers/deps/python
# aws-cdk-lib runs its constructs in Node; keep it quiet about the Node release line.
CDK_ENV := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

.PHONY: install test lint unit bench demo openapi layers synth clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# Every function's entry module is called handler: check each on its own.
	@for entry in functions/*/*.py; do $(BIN)/mypy --no-error-summary "$$entry" || exit 1; done

unit: $(STAMP)
	$(CDK_ENV) $(BIN)/pytest

test: lint unit

bench: $(STAMP)
	$(BIN)/python bench/pacing.py --traffic-dir $(TRAFFIC) --out docs/bench-pacing.md --readme README.md
	$(BIN)/python bench/dataplane.py --out docs/bench-dataplane.md --readme README.md
	$(BIN)/python bench/capacity.py --out docs/bench-capacity.md --readme README.md

demo: $(STAMP)
	$(BIN)/python bench/pacing.py --traffic-dir $(TRAFFIC) --charts out/demo --quick

# The Lambda dependencies layer: arm64 wheels from PyPI, no Docker.
$(DEPS_LAYER): pyproject.toml infra/build_layer.py | $(STAMP)
	$(BIN)/python infra/build_layer.py

layers: $(DEPS_LAYER)

# Writes cdk.out/ offline: no Docker, no AWS credentials.
synth: $(STAMP) $(DEPS_LAYER)
	$(CDK_ENV) $(BIN)/python infra/app.py

openapi: $(STAMP)
	$(BIN)/python -m frolic.admin.openapi > docs/openapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis out cdk.out build
