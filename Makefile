# The CRM suite's commands. `make up` and `make test` work as the first command on a fresh machine.
.PHONY: setup protos protos-check buf-lint buf-breaking lint typecheck test test-unit test-integration test-property test-e2e test-bench test-deploy helm-check infra up down status bench fuzz migrate clean new-service scaffold-check

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# The services of the suite: the `crm.services` entry points of services/*/pyproject.toml
# (crm_common.registry), read with the system Python so it works before .venv exists.
SERVICES := $(shell $(PYTHON) scripts/services.py)
# One service's tests or migrations only: `make test-unit test-integration service=lead`, `make migrate service=lead`.
service ?=
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
SELECTED := $(if $(service),$(service),$(SERVICES))
PYTEST := $(BIN)/pytest -p no:cacheprovider

# Create .venv and install every package (editable) pinned by constraints.txt; reruns when inputs change.
setup: $(VENV)/.installed

$(VENV)/.installed: constraints.txt requirements-dev.txt libs/common/pyproject.toml libs/protos/pyproject.toml $(foreach s,$(SERVICES),services/$(s)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt pip 'setuptools<81' wheel
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt -e libs/protos -e 'libs/common[grpc,db,events,worker]' $(foreach s,$(SERVICES),-e services/$(s))
	touch $@

# Regenerate the Python package libs/protos from protos/ (never edit the output by hand).
protos: setup
	rm -rf libs/protos/src/crm
	PATH=$(abspath $(BIN)):$$PATH $(PY) -m grpc_tools.protoc -I protos \
	  --python_out=libs/protos/src --grpc_python_out=libs/protos/src --mypy_out=quiet:libs/protos/src \
	  $$(find protos -name '*.proto' | sort)
	find libs/protos/src/crm -type d -exec touch {}/__init__.py \;
	touch libs/protos/src/crm/py.typed

# Fail when the generated code is stale (CI runs this on a clean clone).
protos-check: protos
	@git diff --exit-code --stat -- libs/protos/src || { echo "libs/protos is stale: run 'make protos' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- libs/protos/src)" || { echo "untracked generated files: run 'make protos' and commit"; git status --porcelain -- libs/protos/src; exit 1; }

# buf lint (STANDARD rules) over protos/.
buf-lint: setup
	cd protos && ../$(BIN)/buf lint

# buf breaking (FILE rules) against the previous released contract: BUF_AGAINST (a tag), else the
# merge-base with main, else (on main) the commit before HEAD (scripts/buf-breaking.sh).
buf-breaking: setup
	bash scripts/buf-breaking.sh $(BIN)/buf

# ruff and mypy over our own code (not the generated package).
lint: setup
	$(BIN)/ruff check libs/common services tests bench
	$(BIN)/ruff format --check libs/common services tests bench
	$(MAKE) typecheck

typecheck: setup
	$(BIN)/mypy

# Make sure local PostgreSQL and RabbitMQ run (starts them when installed and stopped).
infra:
	@bash scripts/ensure-infra.sh

# Everything: generated code fresh, protos linted, lint, unit, integration, e2e and deploy checks.
test: setup infra protos-check buf-lint buf-breaking lint test-unit test-integration test-property test-e2e test-bench helm-check scaffold-check

# Domain rules only; no I/O.
test-unit: setup
	$(PYTEST) -q $(foreach s,$(SELECTED),services/$(s)/tests/unit) libs/common/tests/unit

# Each service through a real gRPC server on loopback, on SQLite and on PostgreSQL.
test-integration: setup infra
	$(PYTEST) -q $(foreach s,$(SELECTED),services/$(s)/tests/integration) libs/common/tests/integration

# Every RPC of every service fed generated requests on SQLite and PostgreSQL: never INTERNAL, an error writes nothing (~40 s).
test-property: setup infra
	$(PYTEST) -q tests/property

# Every benchmark at small sizes: it runs, measures its reference and its answer holds (~60 s; not a measurement).
test-bench: setup infra
	$(PYTEST) -q tests/bench

# The suite as separate processes with real PostgreSQL and RabbitMQ.
test-e2e: setup infra
	$(PYTEST) -q $(if $(service),$(or $(wildcard services/$(service)/tests/e2e),tests/e2e),tests/e2e $(wildcard services/*/tests/e2e))

# Cast a new service from the mould: `make new-service name=<name> [package=crm_<x>] [proto=<x>]` (docs/adding-a-service.md).
new-service: setup
	@test -n "$(name)" || { echo "usage: make new-service name=<name> [package=crm_<name>] [proto=<name>]"; exit 2; }
	$(PY) scripts/new_service.py $(name) $(if $(package),--package $(package)) $(if $(proto),--proto $(proto))
	$(MAKE) protos setup

# Cast a throwaway service from the mould in a copy of the tree and run its tests (the template never rots).
scaffold-check: setup infra
	bash scripts/scaffold-check.sh

# Helm lint/template, schema and policy validation, Dockerfile and Tiltfile checks.
helm-check: setup
	bash deploy/check.sh
	$(PYTEST) -q tests/deploy

# Fuzz the decode + validate path every request takes (atheris), FUZZ_SECONDS per target; findings land in var/fuzz/.
FUZZ_SECONDS ?= 60
fuzz: setup
	mkdir -p var/fuzz
	@set -o pipefail; for target in decode strings; do \
	  echo "fuzz target $$target ($(FUZZ_SECONDS) s)"; \
	  $(PY) tests/fuzz/fuzz_requests.py $$target -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -print_final_stats=1 -artifact_prefix=var/fuzz/ 2>&1 \
	    | grep -vE '^#[0-9]+' || exit 1; \
	done

# Apply every service's migrations to its configured database (services without one have none).
migrate: setup
	@for s in $$($(PY) -m crm_common.registry --with database $(SELECTED)); do $(BIN)/crm-$$s migrate || exit 1; done

# Start every service (API, relay process, worker) on loopback with SQLite and the local RabbitMQ (RELAY_IN_API=true: no relay process).
up: setup infra
	@$(PY) scripts/suite.py up $(SELECTED)

# Stop what `make up` started.
down:
	@$(PY) scripts/suite.py down

# Show what `make up` started and whether each API is healthy.
status:
	@$(PY) scripts/suite.py status

# Every benchmark in bench/ (bench/README.md); they print their figures and ratios, and fail on a
# wrong answer. reference_*.py are the servers they start as their references, not benchmarks.
bench: setup infra
	@for b in $(filter-out bench/reference_%.py,$(wildcard bench/*.py)); do echo "== $$b"; $(PY) $$b || exit 1; done

# Remove the virtualenv, local databases and caches.
clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
