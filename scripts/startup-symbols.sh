#!/usr/bin/env bash
# bot/startup-symbols.txt: the functions a paper bot runs from start to idle
# (start-up, restore, candles and orders, the operator's status, metrics and
# health polls, shutdown), recorded under valgrind's callgrind. The release
# build lays them out first (bot/build.rs), so the few megabytes of code an
# idle bot runs sit together instead of in ~140 scattered 64 KiB windows the
# kernel maps around each page it faults in.
#
#   scripts/startup-symbols.sh record BUILD RELEASE_BINARY   # (re)write BUILD's section
#   scripts/startup-symbols.sh --check RELEASE_BINARY        # does a section fit it?
#
# Symbol names carry hashes of the build: of the toolchain, Cargo.lock, the
# profile and the features cargo unifies for the packages built together, so
# `-p botfleet-bot` alone, the images' build of every binary and
# `cargo bench` each name the same functions differently. The list keeps a
# section per build: `images` (scripts/cluster/build-images.sh, what a pod
# runs here), `release` (`cargo build --release -p botfleet-bot`, as
# bot/Dockerfile builds it) and `bench` (`cargo bench -p botfleet-bot`,
# which reads the idle RSS); the linker skips the names a build does not
# have. `make startup-symbols` records all three. `--check` (run by
# build-images.sh on the binary the images ship) fails when no section has
# 90 % of its names in the binary.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# (BOTFLEET_STARTUP_SYMBOLS: another list, for the script's own tests.)
list="${BOTFLEET_STARTUP_SYMBOLS:-$repo/bot/startup-symbols.txt}"
defined() { nm --defined-only "$1" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u; }
# The names of BUILD's section.
section() { awk -v b="$1" '/^# build / {on = ($3 == b)} on && !/^#/' "$list"; }
builds() { awk '/^# build / {print $3}' "$list" 2>/dev/null; }

if [ "${1:-}" = --check ]; then
  bin="${2:?usage: $0 --check RELEASE_BINARY}"
  have="$(mktemp)"
  trap 'rm -f "$have"' EXIT
  defined "$bin" >"$have"
  best=""
  for b in $(builds); do
    total=$(section "$b" | sort -u | wc -l)
    found=$(comm -12 <(section "$b" | sort -u) "$have" | wc -l)
    best+=" $b: $found of $total;"
    if ((total > 0 && found * 10 >= total * 9)); then
      echo "${list#"$repo"/}: the $b section fits $(basename "$bin") ($found of $total functions laid out first)" >&2
      exit 0
    fi
  done
  echo "${list#"$repo"/} is stale for $bin (found:${best%;}): run make startup-symbols (needs valgrind), commit the list and rebuild" >&2
  exit 1
fi

[ "${1:-}" = record ] || { echo "usage: $0 record BUILD RELEASE_BINARY | --check RELEASE_BINARY" >&2; exit 2; }
build="${2:?usage: $0 record BUILD RELEASE_BINARY}"
bin="${3:?usage: $0 record BUILD RELEASE_BINARY}"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[ -x "$bin" ] || { echo "no release binary at $bin: cargo build --release -p botfleet-bot" >&2; exit 1; }
work="$(mktemp -d)"
pid=""
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
mkdir "$work/data"
cp "$repo/bot/benches/bench-bot.yaml" "$work/bot.yaml"
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.out" \
  "$bin" run --config "$work/bot.yaml" --listen "127.0.0.1:$port" --feed synthetic --speed 120 \
  --insecure-no-auth --data-dir "$work/data" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 120); do curl -sf "127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 1; done
for _ in 1 2 3; do
  for path in status metrics healthz readyz; do curl -sf "127.0.0.1:$port/$path" >/dev/null; done
  sleep 5
done
kill -TERM "$pid"
wait "$pid" || true
grep -v "^==" "$work/log" | tail -4 >&2
# Every function callgrind saw (name-compressed "fn=(n) name" / "cfn=(n) name"
# lines), kept if the binary defines it.
# ('2, '3 … mark a recursion's depth.)
grep -oE '^c?fn=\([0-9]+\) \S+' "$work/callgrind.out" | sed -E "s/^c?fn=\\([0-9]+\\) //; s/'[0-9]+\$//" | sort -u >"$work/seen"
defined "$bin" >"$work/defined"
comm -12 "$work/seen" "$work/defined" >"$work/names"
{
  echo "# Written by scripts/startup-symbols.sh (make startup-symbols); one section per build."
  for b in $( (builds; echo "$build") | awk '!seen[$0]++'); do
    if [ "$b" = "$build" ]; then
      echo "# build $b ($(wc -l <"$work/names") functions)"
      cat "$work/names"
    else
      echo "# build $b ($(section "$b" | wc -l) functions)"
      section "$b"
    fi
  done
} >"$work/list"
mv "$work/list" "$list"
echo "${list#"$repo"/}: $build, $(wc -l <"$work/names") functions" >&2
