# shellcheck shell=bash
# Shared helpers of the end-to-end run (sourced by run.sh and the scenario files).
# shellcheck source=../cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"

# Step logs and the Helm values of the last run: outside the cluster's directory, so
# they outlive the teardown (run.sh empties it at its start).
E2E_DIR="${BOTFLEET_E2E_DIR:-/var/lib/botfleet-e2e}"
E2E_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RELEASE=botfleet
OPERATOR_NS=botfleet-system
SIM_NS=exchange-sim
# Fixed ClusterIP of the simulator's Service: pods resolve no names (no DNS here).
SIM_IP=10.96.0.50
SIM_PORT=8080
SIM_WS_PORT=8081
SIM_ADMIN_PORT=8082
SIM_URL="http://$SIM_IP:$SIM_PORT"
SIM_WS_URL="ws://$SIM_IP:$SIM_WS_PORT"
SIM_ADMIN_URL="http://$SIM_IP:$SIM_ADMIN_PORT"
# The test-network key pair the simulator accepts (a test fixture, not a secret).
SIM_API_KEY=e2eTestnetKey7Hq2
SIM_SECRET=e2eTestnetSecret4Vz9
# The Coinbase API key name the simulator accepts; its EC key is made per run
# (coinbase_key_pem).
SIM_COINBASE_KEY_NAME=organizations/e2eOrg/apiKeys/e2eKey3Rt8
PROM_PORT=19090
ALERTMANAGER_PORT=19093
PROM_URL="http://127.0.0.1:$PROM_PORT"
AM_URL="http://127.0.0.1:$ALERTMANAGER_PORT"

e2e_log() { echo "e2e: $*" >&2; }

# Polls a command until it succeeds or TIMEOUT seconds pass.
until_ok() { # what timeout command...
  local what=$1 timeout=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      e2e_log "timed out after ${timeout}s waiting for: $what"
      return 1
    fi
    sleep 1
  done
}

# `is OP VALUE command args...`: runs the command (afresh at every poll of until_ok)
# and compares its output, e.g. `until_ok "…" 60 is -ge 2 bot_field ns bot '{.status.x}'`.
is() { # op value command...
  local op=$1 want=$2 got
  shift 2
  got="$("$@" 2>/dev/null)" || return 1
  test "$got" "$op" "$want" 2>/dev/null
}

helm_bin() { echo "${BOTFLEET_TOOLS_DIR:-$CACHE_ROOT/tools}/bin/helm"; }
hm() { "$(helm_bin)" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# A field of a TradingBot (jsonpath).
bot_field() { # ns bot jsonpath
  kc -n "$1" get tradingbot "$2" -o "jsonpath=$3" 2>/dev/null
}

# The value of a PromQL instant query's first sample, or nothing.
prom_value() { # query
  curl -fsS --get "$PROM_URL/api/v1/query" --data-urlencode "query=$1" 2>/dev/null \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
prom_has() { [[ -n "$(prom_value "$1")" ]]; }

# The simulator's admin API (plain HTTP from the host to its ClusterIP).
sim_admin() { # method path [json-body]
  if [[ $# -ge 3 ]]; then
    curl -fsS -X "$1" -H 'content-type: application/json' --data "$3" "$SIM_ADMIN_URL$2"
  else
    curl -fsS -X "$1" "$SIM_ADMIN_URL$2"
  fi
}

# An engine's /status (from the host, through the pod IP).
engine_status() { # ns bot
  local ip
  ip="$(kc -n "$1" get pod "$2-0" -o 'jsonpath={.status.podIP}' 2>/dev/null)"
  [[ -n "$ip" ]] && curl -fsS --max-time 5 "http://$ip:8080/status"
}
