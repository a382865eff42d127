#!/usr/bin/env bash
# `make bench-answer`: the answer and OCR stages' costs (benchmarks/answer_cost.py)
# with the local model server (scripts/llm-server.sh) on a port of its own,
# stopped again afterwards. Needs no Kafka or PostgreSQL.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export MA_STATE_DIR="$ROOT/.state/bench-answer"
export MA_LLM_PORT="${MA_BENCH_LLM_PORT:-18191}"
trap 'scripts/llm-server.sh stop >/dev/null 2>&1' EXIT
scripts/llm-server.sh start || exit 1
BENCH_LLM_URL="$(scripts/llm-server.sh url)" .venv/bin/python -m benchmarks.answer_cost
