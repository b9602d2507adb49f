#!/usr/bin/env bash
# The sweep bench (see bench.py): bench/sweep/run.sh [--runs 5] [--sets 1000]
# Uses bench/peers' venv (numpy, to generate the candles); BOTFLEET_BIN skips the build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$repo/bench/peers/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$repo/bench/peers/requirements.txt"
fi
if [ -z "${BOTFLEET_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -q -p botfleet-bot --bin botfleet-bot)
  BOTFLEET_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/botfleet-bot"
fi
exec "$venv/bin/python" "$here/bench.py" --bin "$BOTFLEET_BIN" "$@"
