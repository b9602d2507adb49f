#!/usr/bin/env bash
# The one test command (README, CI): from a fresh machine to all checks green.
#   1. installs what the tests need (control plane, kubectl/helm, PostgreSQL), cached
#   2. cargo fmt --check, cargo clippy -D warnings
#   3. every test in the workspace
#   4. the end-to-end scenarios on a real local cluster (scripts/e2e/run.sh; root only)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "==> $*" >&2; }

step "control plane (etcd, kube-apiserver, kube-controller-manager)"
./scripts/install-control-plane.sh

step "tools (kubectl, helm)"
./scripts/install-tools.sh

step "PostgreSQL for the store tests"
BOTFLEET_TEST_POSTGRES_URL="$(./scripts/start-test-postgres.sh)"
export BOTFLEET_TEST_POSTGRES_URL

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
# Not --all-targets: the benches (harness = false) would run as tests, and they
# are long measurements meant for `cargo bench` (clippy above still checks them).
cargo test --workspace --lib --bins --tests --examples
# Doc tests are separate from --all-targets.
cargo test --workspace --doc

step "end-to-end on a local cluster (scripts/e2e/run.sh)"
if [[ "$(id -u)" != 0 ]]; then
  echo "the end-to-end run needs root (kubelet, containerd, iptables): sudo make e2e" >&2
  exit 1
fi
# The debug build's incremental caches are not needed again; the release build needs
# the room (a full disk puts the node under DiskPressure).
rm -rf target/debug/incremental
./scripts/e2e/run.sh
