# Every command a developer or CI needs. `make dev` runs the API locally, `make test` runs every gate.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# python3.13 on PATH for sam build (the runtime must match a local interpreter)
export PATH := $(CURDIR)/$(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR)/layers/common:$(CURDIR)

SAM_CLI := aws-sam-cli==1.170.0
CHECKOV := checkov==3.3.30
CFN_LINT := cfn-lint==1.58.0
UV := $(CURDIR)/.tools/bin/uv
# The OpenAPI linter: the version and its dependencies locked in scripts/spectral, installed by `npm ci`.
SPECTRAL := .tools/spectral/node_modules/.bin/spectral
UVX = $(UV) tool run --python $(BIN)/python

# boto3 comes from the Lambda runtime; botocore is pinned in the layer because aws-xray-sdk requires it.
RUNTIME_PROVIDED := boto3 s3transfer

.PHONY: help install dev test lint typecheck unit integration tooling e2e template build check-requirements requirements bench capacity clean \
	sam-local invoke start-api deploy

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

$(VENV)/.installed: uv.lock pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh
	touch $@

install: $(VENV)/.installed ## create .venv (Python 3.13) with the locked dependencies

dev: install ## run the API, DynamoDB and the stream locally on http://127.0.0.1:3000 (no Docker)
	$(BIN)/python -m local

test: install lint typecheck check-requirements ## every gate: lint, types, tests, template checks, sam build
	$(BIN)/pytest -n auto
	$(MAKE) template build

$(SPECTRAL): scripts/spectral/package.json scripts/spectral/package-lock.json
	@command -v npm >/dev/null || { echo "make lint needs Node.js (18.18 or later) and npm for Spectral, e.g. apt-get install nodejs npm"; exit 1; }
	mkdir -p .tools/spectral
	cp scripts/spectral/package.json scripts/spectral/package-lock.json .tools/spectral/
	cd .tools/spectral && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

lint: install $(SPECTRAL) ## ruff; Spectral (spectral:oas rules, warnings fail) on openapi.yaml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(SPECTRAL) lint openapi.yaml --ruleset .spectral.yaml --fail-severity warn --quiet

typecheck: install ## mypy (pydantic plugin, untyped defs refused outside tests)
	$(BIN)/mypy layers/common/beacon functions ops local scripts benchmarks

unit: install ## unit tests only
	$(BIN)/pytest tests/unit

integration: install ## handler tests against moto
	$(BIN)/pytest tests/integration

tooling: install ## tests of the tooling: the local stack (local/)
	$(BIN)/pytest tests/tooling

e2e: install ## HTTP tests against the local stack (or a deployed one with AWS_SAM_STACK_NAME)
	$(BIN)/pytest tests/e2e

template: install ## sam validate --lint, cfn-lint and checkov on template.yaml (the pins above)
	bin/sam validate --lint
	$(UVX) --from $(CFN_LINT) cfn-lint --include-checks I -- template.yaml
	$(UVX) --from $(CHECKOV) checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

build: install ## sam build, then check every compiled extension's architecture and every layer module's bytecode
	bin/sam build
	$(BIN)/python scripts/check_build.py .aws-sam/build template.yaml

sam-local: build ## SAM's emulation in Docker: every event in events/ and `sam local start-api`, against the local stack
	$(BIN)/pytest tests/sam_local -m sam_local -p no:xdist -v

# `make invoke` and `make start-api` use the tables of a running `DYNAMODB_HOST=0.0.0.0 make dev`: env.json
# names them and its DynamoDB (port 8000), which containers reach as host.docker.internal.
FUNCTION ?= CreateChargeFunction
EVENT ?= events/create_charge.json
ENV_VARS ?= env.json
SAM_API_PORT ?= 3001
SAM_LOCAL_ARGS ?=
SAM_LOCAL_OPTIONS = --region us-east-1 --env-vars $(ENV_VARS) --add-host host.docker.internal:host-gateway $(SAM_LOCAL_ARGS)

invoke: install ## sam local invoke FUNCTION with EVENT, on the tables of a running `make dev` (Docker)
	AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
		bin/sam local invoke $(FUNCTION) -e $(EVENT) $(SAM_LOCAL_OPTIONS)

start-api: install ## sam local start-api on SAM_API_PORT (3001), on the tables of a running `make dev` (Docker)
	AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
		bin/sam local start-api --port $(SAM_API_PORT) --warm-containers EAGER $(SAM_LOCAL_OPTIONS)

deploy: build ## sam deploy with samconfig.toml's answers (`bin/sam deploy --guided` the first time)
	bin/sam deploy

requirements: ## regenerate layers/common/requirements.txt from uv.lock
	$(UV) export --no-default-groups --no-hashes --no-emit-project --no-header --no-annotate --format requirements-txt \
		$(addprefix --no-emit-package ,$(RUNTIME_PROVIDED)) --quiet > layers/common/requirements.txt

check-requirements: ## fail when layers/common/requirements.txt is not what uv.lock says
	@$(UV) export --no-default-groups --no-hashes --no-emit-project --no-header --no-annotate --format requirements-txt \
		$(addprefix --no-emit-package ,$(RUNTIME_PROVIDED)) --quiet | diff -u layers/common/requirements.txt - \
		|| (echo "layers/common/requirements.txt is stale: run 'make requirements'" && exit 1)

bench: install ## benchmarks: writes docs/benchmarks.md, its charts and docs/benchmarks.json, then runs `make capacity`
	$(BIN)/python -m benchmarks
	$(MAKE) capacity

capacity: install ## the capacity model: docs/capacity.md and its chart, from docs/benchmarks.json and template.yaml
	$(BIN)/python -m benchmarks.capacity_page

clean: ## remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
