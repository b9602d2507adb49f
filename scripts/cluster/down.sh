#!/usr/bin/env bash
# Tears the local cluster down (scripts/cluster/up.sh): no process, mount, network
# namespace, veth, bridge, iptables chain or changed sysctl stays behind. Safe to run
# twice, with the cluster half up, or after a failed up. The logs stay in
# $BOTFLEET_CLUSTER_DIR/logs (default /var/lib/botfleet-cluster/logs); the cached
# binaries and image archives stay in ~/.cache/botfleet/cluster.
# Exits non-zero (and says what) if anything could not be removed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

need_root
[[ "${BOTFLEET_CLUSTER_LOCKED:-}" == 1 ]] || take_lock
BEGAN=$SECONDS
rm -f "$RUN_DIR/up-complete"

# TERM, then KILL after `grace` seconds; returns once they are gone (or zombies).
running() { [[ -e "/proc/$1" && "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }
stop_pids() { # grace pids...
  local grace=$1 p i any
  shift
  (($#)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < grace * 5 + 25; i++)); do
    any=0
    for p; do running "$p" && any=1; done
    ((any)) || return 0
    if ((i == grace * 5)); then kill -KILL "$@" 2>/dev/null || true; fi
    sleep 0.2
  done
}
stop_component() { # grace name
  local pid
  pid="$(component_pid "$2")"
  if [[ -n "$pid" ]] && running "$pid"; then stop_pids "$1" "$pid"; fi
  rm -f "$PID_DIR/$2.pid"
}

# 1. The node agents first, so nothing restarts containers; the kube-* clients next.
for c in kubelet kube-proxy kube-scheduler kube-controller-manager; do stop_component 10 "$c"; done

# 2. Containers: kill every task through containerd while it runs (the shims then unmount
#    the root filesystems and exit), then containerd itself.
if pid_alive "$(component_pid containerd)" && [[ -S "$CONTAINERD_SOCK" ]]; then
  for ns in $(timeout 10 ctr --address "$CONTAINERD_SOCK" namespaces ls -q 2>/dev/null || true); do
    c_ctr() { timeout 20 ctr --address "$CONTAINERD_SOCK" --namespace "$ns" "$@"; }
    tasks="$(c_ctr tasks ls -q 2>/dev/null || true)"
    for t in $tasks; do c_ctr tasks kill --all --signal SIGKILL "$t" >/dev/null 2>&1 || true; done
    for t in $tasks; do c_ctr tasks delete --force "$t" >/dev/null 2>&1 || true; done
    for c in $(c_ctr containers ls -q 2>/dev/null || true); do c_ctr containers delete "$c" >/dev/null 2>&1 || true; done
  done
fi
stop_component 10 containerd

# 3. Anything left that runs in the cluster's containers (e.g. after a shim was killed):
#    the processes in the containers' cgroups; then every process naming the cluster's
#    directories (shims, components), the apiserver and etcd last.
our_container_ids() {
  ls "$CONTAINERD_DIR/state/io.containerd.runtime.v2.task/"*/ "$CONTAINERD_DIR/root/io.containerd.grpc.v1.cri/sandboxes/" \
     "$CONTAINERD_DIR/root/io.containerd.grpc.v1.cri/containers/" 2>/dev/null | grep -E '^[0-9a-f]{64}$' | sort -u || true
}
# The containers' cgroup directories: all of <hierarchy>/k8s.io if the cluster created
# it, else only those named after the cluster's containers.
container_cgroups() {
  local parent ids
  ids="$(our_container_ids)"
  for parent in $(cgroup_parents); do
    if grep -qxF "$parent" "$HOST_STATE/cgroup-parents" 2>/dev/null || [[ ! -d "$HOST_STATE" ]]; then
      for id in $ids; do [[ -d "$parent/$id" ]] && echo "$parent/$id"; done
    else
      find "$parent" -mindepth 1 -depth -type d
    fi
  done
  return 0
}
container_pids() {
  local cg
  for cg in $(container_cgroups); do cat "$cg/cgroup.procs" 2>/dev/null || true; done | sort -un
}
# shellcheck disable=SC2046
stop_pids 0 $(container_pids)
late=" $(component_pid kube-apiserver) $(component_pid etcd) "
early=()
for p in $(cluster_pids); do [[ "$late" == *" $p "* ]] || early+=("$p"); done
stop_pids 10 "${early[@]}"
stop_component 10 kube-apiserver
stop_component 10 etcd
# shellcheck disable=SC2046
stop_pids 5 $(cluster_pids)
for attempt in 1 2 3 4 5; do
  left=0
  for cg in $(container_cgroups); do rmdir "$cg" 2>/dev/null || left=1; done
  ((left)) || break
  sleep 0.5
done
for parent in $(cgroup_parents); do
  grep -qxF "$parent" "$HOST_STATE/cgroup-parents" 2>/dev/null || [[ ! -d "$HOST_STATE" ]] || rmdir "$parent" 2>/dev/null || true
done

# 4. Mounts under the cluster's directories (pod volumes, sandbox /dev/shm, network
#    namespaces, root filesystems, the kubelet's own bind mount), deepest first.
for attempt in 1 2 3; do
  mounts="$(cluster_mounts)"
  [[ -n "$mounts" ]] || break
  while IFS= read -r m; do
    umount "$m" 2>/dev/null || { ((attempt < 3)) || umount -l "$m" 2>/dev/null || true; }
  done <<<"$mounts"
done

# 5. iptables: our guard, kube-proxy's and the kubelet's chains, the CNI plugins' chains.
clean_chains() { # iptables|ip6tables
  local cmd=$1 t rule chain
  command -v "$cmd" >/dev/null || return 0
  for t in filter nat mangle raw; do
    "$cmd" -t "$t" -S >/dev/null 2>&1 || continue
    # Jumps from the built-in chains into ours.
    while IFS= read -r rule; do
      [[ -n "$rule" ]] || continue
      eval "$cmd -t $t -D ${rule#-A }" 2>/dev/null || true
    done < <("$cmd" -t "$t" -S | grep -E "^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j ($CHAIN_PREFIXES)" || true)
    for chain in $("$cmd" -t "$t" -S | sed -nE "s/^-N (($CHAIN_PREFIXES)[^ ]*)$/\1/p"); do
      "$cmd" -t "$t" -F "$chain" 2>/dev/null || true
    done
    for chain in $("$cmd" -t "$t" -S | sed -nE "s/^-N (($CHAIN_PREFIXES)[^ ]*)$/\1/p"); do
      "$cmd" -t "$t" -X "$chain" 2>/dev/null || true
    done
  done
}
clean_chains iptables
clean_chains ip6tables

# 6. Network devices: veths still attached to the bridge, then the bridge.
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  for dev in $(ip -o link show master "$BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$dev" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
fi

# 7. Host state: sysctls, /var/log/pods and /var/log/containers, containerd's shim sockets.
if [[ -f "$HOST_STATE/sysctl" ]]; then
  while IFS='=' read -r key value; do
    [[ -n "$key" ]] && sysctl -qw "$key=$value" 2>/dev/null || true
  done <"$HOST_STATE/sysctl"
fi
if [[ -f "$HOST_STATE/host-paths" ]]; then
  for d in "${HOST_PATHS[@]}"; do
    [[ -e "$d" ]] || continue
    while IFS= read -r e; do
      grep -qxF "$e" "$HOST_STATE/host-paths" || rm -rf --one-file-system "$e"
    done < <(find "$d" -maxdepth 2 | sort -r)
  done
fi
# Shims listen on /run/containerd/s/<hash> whatever containerd's state dir is.
if [[ -d /run/containerd ]]; then
  if [[ -d "$HOST_STATE" && ! -f "$HOST_STATE/run-containerd-existed" ]] \
     && [[ -z "$(ls -A /run/containerd | grep -vx -e s -e runc || true)" ]]; then
    rm -rf --one-file-system /run/containerd
  else
    listening="$(ss -Hxl 2>/dev/null | awk '{print $5}')"
    for s in /run/containerd/s/*; do
      [[ -S "$s" ]] && ! grep -qxF "$s" <<<"$listening" && rm -f "$s"
    done
  fi
fi

# 8. Files: everything but the logs.
if [[ -d "$RUN_DIR" ]]; then
  for e in "$RUN_DIR"/* "$RUN_DIR"/.[!.]*; do
    [[ -e "$e" || -L "$e" ]] || continue
    [[ "$e" == "$LOG_DIR" ]] && continue
    rm -rf --one-file-system "$e" 2>/dev/null || true
  done
fi
rm -rf --one-file-system "$ETCD_DIR" 2>/dev/null || true

# 9. Verify.
problems=()
[[ -z "$(cluster_pids)" ]] || problems+=("processes: $(cluster_pids | paste -sd' ')")
[[ -z "$(container_pids)" ]] || problems+=("container processes: $(container_pids | paste -sd' ')")
[[ -z "$(cluster_mounts)" ]] || problems+=("mounts: $(cluster_mounts | paste -sd' ')")
[[ -z "$(container_cgroups)" ]] || problems+=("cgroups: $(container_cgroups | head -3 | paste -sd' ')")
if ip link show "$BRIDGE" >/dev/null 2>&1; then problems+=("bridge $BRIDGE"); fi
[[ -z "$(cluster_chains iptables)" ]] || problems+=("iptables chains: $(cluster_chains iptables | paste -sd' ')")
[[ -z "$(cluster_chains ip6tables 2>/dev/null)" ]] || problems+=("ip6tables chains: $(cluster_chains ip6tables | paste -sd' ')")
if [[ -n "$(ls "$RUN_DIR" 2>/dev/null | grep -vx logs || true)" ]]; then problems+=("files in $RUN_DIR"); fi
if ((${#problems[@]})); then
  for p in "${problems[@]}"; do log "left behind: $p"; done
  exit 1
fi
log "down in $((SECONDS - BEGAN)) s (logs kept in $LOG_DIR)"
