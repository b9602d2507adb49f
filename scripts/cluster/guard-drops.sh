#!/usr/bin/env bash
# Prints how many packets the egress guard of the local cluster dropped: pod traffic
# (in through the bridge bfbr0) to anything but the pod range, the Service range or the
# bridge address (IPv4), or anything but link-local/multicast (IPv6). An end-to-end
# test asserts it prints 0: no pod ever tried to leave the machine's cluster network.
#   -v   also print the guard's rules with their counters (and any kernel LOG lines)
# Exits 2 when the guard is not installed (the cluster is down).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root

count() { # iptables|ip6tables
  "$1" -t mangle -L "$GUARD_CHAIN" -n -v -x 2>/dev/null | awk '$3 == "DROP" { n += $1 } END { print n + 0 }'
}
iptables -t mangle -L "$GUARD_CHAIN" -n >/dev/null 2>&1 || { echo "cluster: the guard chain $GUARD_CHAIN is not installed (is the cluster up?)" >&2; exit 2; }
v4="$(count iptables)"
v6=0
if ip6tables -t mangle -L "$GUARD_CHAIN" -n >/dev/null 2>&1; then v6="$(count ip6tables)"; fi
if [[ "${1:-}" == -v ]]; then
  {
    echo "IPv4 drops: $v4, IPv6 drops: $v6"
    iptables -t mangle -L "$GUARD_CHAIN" -n -v -x
    ip6tables -t mangle -L "$GUARD_CHAIN" -n -v -x 2>/dev/null || true
    dmesg 2>/dev/null | grep 'botfleet-guard: ' | tail -20 || true
  } >&2
fi
echo $((v4 + v6))
