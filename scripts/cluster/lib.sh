# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# Shared settings of the local cluster harness (sourced by the scripts next to it).
#
# Everything the cluster writes lives under $BOTFLEET_CLUSTER_DIR (default
# /var/lib/botfleet-cluster) and etcd's data under /dev/shm; the built binaries and the
# image archives are cached under ~/.cache/botfleet/cluster. Addresses: pods on the
# bridge bfbr0 (10.88.0.0/16, the host is 10.88.0.1), Services in 10.96.0.0/16, the
# apiserver on https://10.88.0.1:16443 only (never on the host's other interfaces).

K8S_VERSION=v1.20.2
CLUSTER_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CLUSTER_SCRIPTS/../.." && pwd)"

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/botfleet"
# Control plane binaries (etcd, kube-apiserver, kube-controller-manager): the
# project's install-control-plane.sh builds them.
CP_DIR="${BOTFLEET_CONTROL_PLANE_DIR:-$CACHE_ROOT/control-plane/$K8S_VERSION}"
CP_BIN="$CP_DIR/bin"
# Node binaries (kubelet, kube-scheduler, kube-proxy, pause, the runc wrapper).
CLUSTER_CACHE="${BOTFLEET_CLUSTER_CACHE:-$CACHE_ROOT/cluster}"
NODE_BIN="$CLUSTER_CACHE/$K8S_VERSION/bin"
# Image archives (docker-archive tarballs) imported into containerd at every `up`.
IMAGES_DIR="$CLUSTER_CACHE/images"
# Buildah's storage (vfs driver: no mounts) and the Debian packages of the base image.
BUILDAH_DIR="$CLUSTER_CACHE/buildah"
# Cargo's target dir of the release binaries the images carry: outside the checkout, so
# a fresh clone on this machine rebuilds only what changed (a cold release build of the
# workspace takes ~13 minutes on 2 cores).
RELEASE_TARGET="${BOTFLEET_RELEASE_TARGET_DIR:-$CACHE_ROOT/release-target}"
RELEASE_BIN="$RELEASE_TARGET/release"

RUN_DIR="${BOTFLEET_CLUSTER_DIR:-/var/lib/botfleet-cluster}"
ETCD_DIR="${BOTFLEET_CLUSTER_ETCD_DIR:-/dev/shm/botfleet-cluster-etcd}"
LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
PKI_DIR="$RUN_DIR/pki"
KUBECONFIG_PATH="$RUN_DIR/kubeconfig"
CONTAINERD_DIR="$RUN_DIR/containerd"
CONTAINERD_SOCK="$CONTAINERD_DIR/containerd.sock"
KUBELET_DIR="$RUN_DIR/kubelet"
CNI_DIR="$RUN_DIR/cni"
# Host state the cluster changes (sysctls, /var/log/pods): recorded by up, restored by down.
HOST_STATE="$RUN_DIR/host-state"

BRIDGE=bfbr0
POD_CIDR=10.88.0.0/16
BRIDGE_IP=10.88.0.1
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SERVICE_IP=10.96.0.1
APISERVER_PORT=16443
APISERVER_URL="https://$BRIDGE_IP:$APISERVER_PORT"
ETCD_PORT=12379
ETCD_PEER_PORT=12380
NODE_NAME=botfleet-node
GUARD_CHAIN=BOTFLEET-GUARD
PAUSE_IMAGE=botfleet.local/pause:3.4.1
CNI_BIN_DIR=/usr/lib/cni

# The sysctls the kubelet, kube-proxy and the CNI bridge plugin may change.
SAVED_SYSCTLS=(
  net.ipv4.ip_forward
  net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables
  net.ipv4.conf.all.route_localnet
  vm.overcommit_memory
  vm.panic_on_oom
  kernel.panic
  kernel.panic_on_oops
  kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes
)

# Paths outside $RUN_DIR the cluster may create entries in (see up.sh).
HOST_PATHS=(/var/log/pods /var/log/containers /var/lib/kubelet /var/lib/cni /etc/cni /usr/libexec/kubernetes)

# The iptables chain prefixes of the cluster: ours, kubelet's and kube-proxy's, the
# CNI plugins'. down.sh removes every chain with these prefixes, so the harness must not
# run on a machine that is a Kubernetes node already (up.sh refuses to).
CHAIN_PREFIXES='BOTFLEET-|KUBE-|CNI-'

log() { echo "cluster: $*" >&2; }
die() { echo "cluster: error: $*" >&2; exit 1; }

need_root() {
  [[ "$(id -u)" == 0 ]] || die "run as root (the kubelet, containerd and iptables need it): sudo $0"
}

# One harness command at a time (up, down, build-images' import).
take_lock() {
  mkdir -p /run/lock
  exec 9>/run/lock/botfleet-cluster.lock
  flock -w 600 9 || die "another cluster command holds /run/lock/botfleet-cluster.lock"
}

kubectl_bin() {
  local tools="${BOTFLEET_TOOLS_DIR:-$CACHE_ROOT/tools}/bin/kubectl"
  if [[ -x "$tools" ]]; then echo "$tools"; return; fi
  command -v kubectl 2>/dev/null || { "$REPO_ROOT/scripts/install-tools.sh" >&2 && echo "$tools"; }
}

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

component_pid() { cat "$PID_DIR/$1.pid" 2>/dev/null || true; }

# Installs the Debian packages that are missing.
ensure_packages() {
  local need=() p
  for p in "$@"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || need+=("$p")
  done
  ((${#need[@]})) || return 0
  log "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# Every iptables/ip6tables chain of the cluster (table:chain), for cleanup and checks.
cluster_chains() {
  local cmd=$1 t
  for t in filter nat mangle raw; do
    "$cmd" -t "$t" -S 2>/dev/null | sed -nE "s/^-N (($CHAIN_PREFIXES)[^ ]*)$/$t:\1/p"
  done
}

# Mount points under the cluster's directories (deepest first).
cluster_mounts() {
  awk -v a="$RUN_DIR/" -v b="$ETCD_DIR/" -v ra="$RUN_DIR" -v rb="$ETCD_DIR" \
    '{ m = $2; gsub(/\\040/, " ", m); if (index(m, a) == 1 || index(m, b) == 1 || m == ra || m == rb) print m }' \
    /proc/mounts | sort -r | uniq
}

# Processes of the cluster: every process whose command line names the cluster's
# directories (the components, containerd's shims) - never this shell or its parents.
cluster_pids() {
  local p cmd self=$$ parents=" "
  p=$self
  while [[ -n "$p" && "$p" != 0 && "$p" != 1 ]]; do
    parents+="$p "
    p="$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || true)"
  done
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ "$parents" == *" $p "* ]] && continue
    cmd="$( { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null || true)"
    [[ -n "$cmd" ]] || continue
    if [[ "$cmd" == *"$RUN_DIR/"* || "$cmd" == *"$ETCD_DIR"* ]]; then echo "$p"; fi
  done
}

# The cgroup directories containerd puts the containers in (cgroupfs driver, no
# cgroups-per-qos): <hierarchy>/k8s.io on cgroup v1, /sys/fs/cgroup/k8s.io on v2.
cgroup_parents() {
  find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name k8s.io 2>/dev/null | sort
}
