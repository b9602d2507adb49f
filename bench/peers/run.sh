#!/usr/bin/env bash
# Botfleet vs backtesting.py on the same generated candles (see peers.py).
#   bench/peers/run.sh [--runs 5] [--candles 1000000] [--botfleet-only]
# BOTFLEET_BIN=path skips the release build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
fi
if [ -z "${BOTFLEET_BIN:-}" ]; then
  (cd "$repo" && cargo build --release -q -p botfleet-bot --bin botfleet-bot)
  BOTFLEET_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/botfleet-bot"
fi
exec "$venv/bin/python" "$here/peers.py" --bin "$BOTFLEET_BIN" "$@"
