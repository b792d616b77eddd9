# TestFleet: `make up` runs the platform on this machine, `make test` runs every suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
USER ?= alice
ROLE ?= tester
PYTEST_ARGS ?=
TEST_PATHS := shared/tests gateway/tests web-test-service/tests perf-test-service/tests scheduler-service/tests deploy/tests

.PHONY: help install up test lint token clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: ## install OS packages that are missing and the Python venv
	@scripts/install.sh

up: ## install what is missing, run every process in the foreground (Ctrl-C stops all)
	@scripts/up.sh

test: install ## run every test suite (real Redis, workers, nginx, Chromium, Locust)
	$(PY) -m pytest $(TEST_PATHS) $(PYTEST_ARGS)

lint: install ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

token: ## print a bearer token: make token USER=alice ROLE=tester
	@scripts/install.sh >&2
	@$(PY) -m shared token --user "$(USER)" --role "$(ROLE)"

clean: ## remove local state (databases, Redis AOF, logs) under var/
	rm -rf var
