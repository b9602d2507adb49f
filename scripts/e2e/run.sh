#!/usr/bin/env bash
# The end-to-end run on a real single-node cluster (docs/local-cluster.md):
#   a fresh cluster (an existing one is torn down first) → images (release binaries, the Dockerfiles' runtime stages) → the exchange
#   simulator in the cluster → Prometheus + Alertmanager → `helm install` → the
#   scenarios (scenarios.sh) → teardown, which runs even when a step fails.
# Prints one line per step with its duration, and on a failure the cluster's state.
#   --keep     leave the cluster up at the end (inspect it; `make cluster-down` later)
#   --up-only  bring the fleet up (cluster, images, simulator, monitoring, chart,
#              quickstart) and stop there: the README's "run it on a local cluster".
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scenarios.sh
source "$E2E_SCRIPTS/scenarios.sh"
need_root
KEEP=0
UP_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --keep) KEEP=1 ;;
    --up-only) UP_ONLY=1; KEEP=1 ;;
    *) die "unknown argument $arg (usage: $0 [--keep] [--up-only])" ;;
  esac
done
KUBECTL="$(kubectl_bin)"
"$REPO_ROOT/scripts/install-tools.sh" >/dev/null
BEGAN=$SECONDS
rm -rf "$E2E_DIR"
mkdir -p "$E2E_DIR"
# The images are written twice (buildah's vfs storage, then containerd): a nearly full
# disk fails there ("no space left on device") or puts the node under DiskPressure.
e2e_log "free disk: $(df -h --output=avail / | tail -1 | tr -d ' ') on /"
RESULTS=()
FAILED=""

diagnose() {
  e2e_log "---- disk"; df -h / "$RUN_DIR" 2>/dev/null >&2 || true
  e2e_log "---- nodes, pods, bots"
  kc get nodes -o wide >&2 2>/dev/null || true
  kc get pods -A -o wide >&2 2>/dev/null || true
  kc get tradingbots -A >&2 2>/dev/null || true
  e2e_log "---- events"
  kc get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -40 >&2 || true
  local ns pod
  while read -r ns pod; do
    [[ -n "$pod" ]] || continue
    e2e_log "---- logs $ns/$pod"
    kc -n "$ns" logs "$pod" --all-containers --tail=40 >&2 2>/dev/null || true
  done < <(kc get pods -A --no-headers 2>/dev/null | awk '$1 != "kube-system" {print $1, $2}')
}

teardown() {
  local rc=$?
  ((rc == 0)) || [[ -n "$FAILED" ]] || FAILED="(interrupted)"
  [[ -z "$FAILED" ]] || diagnose
  stop_monitoring || true
  e2e_log "---------------------------------------------------------------"
  local r
  for r in "${RESULTS[@]}"; do e2e_log "$r"; done
  e2e_log "total $((SECONDS - BEGAN)) s (each step's output: $E2E_DIR/<step>.log)"
  if ((KEEP)); then
    e2e_log "the cluster stays up (--keep): KUBECONFIG=$KUBECONFIG_PATH; make cluster-down ends it"
  else
    local t=$SECONDS
    "$CLUSTER_SCRIPTS/down.sh" || FAILED="${FAILED:-teardown}"
    e2e_log "teardown: $((SECONDS - t)) s"
  fi
  if [[ -n "$FAILED" ]]; then
    e2e_log "FAILED: $FAILED"
    exit 1
  fi
  e2e_log "passed"
}
trap teardown EXIT

# Runs one step, records its duration, stops the run at the first failure (with the
# step's own output kept in $E2E_DIR/<step>.log and its tail printed).
step() { # name function
  local name=$1 fn=$2 t=$SECONDS log
  mkdir -p "$E2E_DIR"
  log="$E2E_DIR/$fn.log"
  e2e_log "==> $name"
  if "$fn" >"$log" 2>&1; then
    RESULTS+=("$(printf 'ok   %5d s  %s' $((SECONDS - t)) "$name")")
  else
    RESULTS+=("$(printf 'FAIL %5d s  %s' $((SECONDS - t)) "$name")")
    FAILED="$name"
    e2e_log "---- last lines of $name ($log)"
    tail -n 60 "$log" >&2 || true
    exit 1
  fi
}

# Always a fresh cluster: whatever an earlier run left (bots, volumes) would change
# what the scenarios see.
cluster_up() { "$CLUSTER_SCRIPTS/down.sh" && "$CLUSTER_SCRIPTS/up.sh"; }

step "cluster up" cluster_up
DROPS_BEFORE="$("$CLUSTER_SCRIPTS/guard-drops.sh")"
step "images (release cargo build + buildah)" build_images
step "exchange simulator in the cluster" deploy_simulator
step "helm install" helm_install
step "Prometheus + Alertmanager" start_monitoring
step "quickstart: kubectl apply → Running → equity in kubectl and Prometheus" scenario_quickstart
if ((UP_ONLY)); then
  e2e_log "the fleet is up: KUBECONFIG=$KUBECONFIG_PATH kubectl get tbot -A; Prometheus $PROM_URL"
  exit 0
fi
step "admission webhook: invalid spec and unapproved approver refused, approver recorded" scenario_admission
step "promote to Sandbox by spec.phase: the engine trades on the simulator" scenario_promote
step "price crash → halt → BotfleetBotHalted in Prometheus and Alertmanager → resume" scenario_crash_halt_resume
step "engine pod deleted mid-order-flow: books equal" scenario_pod_delete
step "engine process SIGKILLed mid-order-flow: books equal" scenario_process_kill
step "a Coinbase bot earns Sandbox and trades on the simulator's Coinbase API: books equal" scenario_coinbase
step "operator leader pod killed: the other replica takes the Lease" scenario_operator_failover
step "every dashboard expression returns data" scenario_dashboard
step "restricted Pod Security Standard on every pod" scenario_pod_security
step "helm upgrade and uninstall keep CRDs, bots and data" scenario_helm_lifecycle
step "egress guard dropped nothing" scenario_guard
