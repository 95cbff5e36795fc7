# One entry point per task; every target that needs generated stubs depends on `proto`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := libs/contracts libs/platform services/customer services/sales services/gateway
STAMP := $(VENV)/.installed
PROTO_STAMP := libs/contracts/src/crm/.generated
PROTO_FILES := $(shell find protos -name '*.proto')
# uv is much faster; `make setup INSTALLER=pip` uses plain pip instead.
INSTALLER ?= uv
ifeq ($(INSTALLER),uv)
# Bytecode compiled at install: this environment may set PYTHONDONTWRITEBYTECODE, and
# without .pyc files every service start recompiles its dependencies (~2 s each).
INSTALL := $(BIN)/uv pip install --compile-bytecode --python $(BIN)/python \
	-c constraints.txt --build-constraint constraints.txt
BOOTSTRAP := $(BIN)/python -m pip install -q -c constraints.txt uv
else
# PIP_CONSTRAINT also reaches pip's isolated build environments (hatchling).
INSTALL := PIP_CONSTRAINT=constraints.txt $(BIN)/python -m pip install -q
BOOTSTRAP := true
endif
PYTEST := $(BIN)/python -m pytest -q

.PHONY: setup proto lint test test-unit test-integration test-e2e run up down status bench clean

setup: $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BOOTSTRAP)
	$(INSTALL) -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

proto: $(PROTO_STAMP)

$(PROTO_STAMP): $(STAMP) $(PROTO_FILES)
	rm -rf libs/contracts/src/crm
	mkdir -p libs/contracts/src
	$(BIN)/python -m grpc_tools.protoc -I protos \
		--python_out=libs/contracts/src --pyi_out=libs/contracts/src \
		--grpc_python_out=libs/contracts/src --mypy_grpc_out=libs/contracts/src \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc \
		$(PROTO_FILES)
	touch $@

lint: proto
	cd protos && ../$(BIN)/buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test-unit: proto
	$(PYTEST) -m "not integration and not e2e"

test-integration: proto
	$(PYTEST) -m integration

test-e2e: proto
	$(PYTEST) -m e2e

test: lint
	$(PYTEST)

run: proto
	$(BIN)/crm-devstack run

up: proto
	$(BIN)/crm-devstack up

down:
	$(BIN)/crm-devstack down

status:
	$(BIN)/crm-devstack status

bench: proto
	$(BIN)/python -m bench

clean:
	-test -x $(BIN)/crm-devstack && $(BIN)/crm-devstack down
	rm -rf $(VENV) .devstack libs/contracts/src/crm .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
