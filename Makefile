# Media Analysis: the local stack without Docker, and the test suite.
#   make up     start Kafka, PostgreSQL, migrations, topics and all services (background)
#   make up LLM=local  the same, with a small local model answering prompts (offline draft)
#   make down   stop exactly what `make up` started
#   make test   lint, type-check, then the whole suite against a private real stack
#   make logs   follow the service log
#   make test-faults  only the fault-injection suite (tests/faults) on a private stack
#   make test-cluster  Kafka nodes killed under load on a private three-node cluster (tests/cluster)
#   make bench  measure the service on a private stack; writes BENCHMARKS.md
#   make profile  py-spy one service under load (PROFILE_SERVICE, PROFILE_SCENARIO, PROFILE_RATE)
#   make bench-mix  only the combined mix, MIX_ROUNDS times (before/after comparisons)
#   make bench-start  how long analyses wait to start, at START_RATE a second
#   make bench-streams  1,000 live status streams on one API: memory, fan-out lag, POST/status p95
#   make bench-webhooks  webhook delivery lag at WEBHOOK_RATE completions a second
#   make bench-tracing  POST/status p95 and API CPU with tracing off and on, TRACING_ROUNDS rounds
#   make bench-answer  summary, OCR and local-model answer costs (no stack needed)
#   make bench-cluster  POST latency and visibility lag on one broker, then on three nodes
#   make bench-long  10- and 60-minute speech, a 30-minute video, four hours at once (memory, time, progress)
#   make load   the PRD's Locust test against `make up`: 100 users, 100 req/s, LOAD_TIME (60s)

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STATE := $(CURDIR)/.state

.PHONY: help venv deps test-deps up down status logs test test-faults test-cluster lint format clean bench bench-mix bench-start bench-answer bench-streams bench-webhooks bench-tracing bench-cluster bench-long profile load

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

deps:
	@scripts/system-deps.sh

up: deps venv
	@LLM=$(LLM) scripts/stack.sh up

down:
	@scripts/stack.sh down

status:
	@scripts/stack.sh status

logs:
	@tail -n 100 -F $(STATE)/logs/services.log

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: test-deps venv lint
	@scripts/run-tests.sh $(PYTEST_ARGS)

test-deps:
	@scripts/system-deps.sh test

test-faults: deps venv
	@scripts/run-tests.sh tests/faults $(PYTEST_ARGS)

test-cluster: deps venv
	@MA_KAFKA_BROKERS=3 scripts/run-tests.sh tests/cluster $(PYTEST_ARGS)

clean: down
	rm -rf $(STATE)

bench: deps venv
	@scripts/bench.sh

profile: deps venv
	@BENCH_DRIVER=benchmarks.profile scripts/bench.sh

bench-mix: deps venv
	@BENCH_DRIVER=benchmarks.mix scripts/bench.sh

bench-start: deps venv
	@BENCH_DRIVER=benchmarks.start_lag scripts/bench.sh

bench-streams: deps venv
	@BENCH_DRIVER=benchmarks.streams scripts/bench.sh

bench-cluster: deps venv
	@MA_KAFKA_BROKERS=1 BENCH_DRIVER=benchmarks.cluster scripts/bench.sh
	@MA_KAFKA_BROKERS=3 BENCH_DRIVER=benchmarks.cluster scripts/bench.sh
	@$(PY) -m benchmarks.report

bench-long: deps venv
	@BENCH_DRIVER=benchmarks.long_media scripts/bench.sh

bench-webhooks: deps venv
	@BENCH_DRIVER=benchmarks.webhook_lag scripts/bench.sh

bench-tracing: deps venv
	@BENCH_DRIVER=benchmarks.tracing scripts/bench.sh
	@$(PY) -m benchmarks.report

bench-answer: deps venv
	@scripts/bench-answer.sh

LOAD_HOST ?= http://127.0.0.1:$(or $(API_PORT),8000)
LOAD_TIME ?= 60s
LOAD_USERS ?= 100

load: venv
	@curl -fsS $(LOAD_HOST)/readyz >/dev/null || { echo "make load: no ready stack at $(LOAD_HOST); run make up first" >&2; exit 1; }
	$(BIN)/locust -f tests/load/locustfile.py --headless --host $(LOAD_HOST) \
		-u $(LOAD_USERS) -r 20 --run-time $(LOAD_TIME) --reset-stats --only-summary
