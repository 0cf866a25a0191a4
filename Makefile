# Provisio: two commands on a fresh clone with only Python 3.11+ and make.
#   make up    - run the whole stack locally with demo data (background; returns when ready)
#   make test  - install what is needed and run every test
PYTHON ?= python3
UV_VERSION := 0.13.9
STATE ?= .provisio
BOOT := $(STATE)/bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
PROVISIO := $(VENV)/bin/provisio

.PHONY: venv up down logs status test bench check-differential lint clean

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet "uv==$(UV_VERSION)"

# The workspace (every lib and service, editable) into .venv, exactly as uv.lock says.
venv: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet

up: venv
	$(PROVISIO) up --state $(STATE)

down:
	@if [ -x $(PROVISIO) ]; then $(PROVISIO) down --state $(STATE); else echo "nothing to stop"; fi

logs:
	$(PROVISIO) logs --state $(STATE)

status: venv
	-$(PROVISIO) status --state $(STATE)

# Two workers (pytest-xdist), each module on one worker (its shared fixtures start once), in
# collection order, where the fault suite comes first (tests/fault/conftest.py): its twelve
# minutes run beside the rest. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
test: lint
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: venv
	$(PROVISIO) bench --state $(STATE)

# Seeded random scenarios through a throwaway stack (shuffled, retried, duplicated
# webhooks), compared to the cent with the plan engine; exits 1 on any difference.
check-differential: venv
	$(PROVISIO) check-differential --seeds 50

# Lint and types first (make test runs them): ruff, ruff format, mypy --strict on sources
# and tests, one package at a time (each test tree has its own conftest and helpers).
TYPED := libs/common libs/calc libs/cli services/deal-ingest services/calc-engine services/quota-service services/payout-service
lint: venv
	$(VENV)/bin/ruff check libs services tests deploy
	$(VENV)/bin/ruff format --check libs services tests deploy
	@set -e; for unit in $(TYPED); do \
		echo "mypy --strict $$unit"; \
		MYPYPATH=$$unit/tests $(VENV)/bin/mypy --strict $$unit/src $$unit/tests; \
	done
	$(VENV)/bin/mypy --strict tests
	$(VENV)/bin/mypy --strict deploy/generate.py deploy/compose/demo.py deploy/k8s/base/wait_for_dependencies.py

clean: down
	rm -rf $(STATE) $(VENV)
