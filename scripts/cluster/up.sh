#!/usr/bin/env bash
# Brings up a real single-node Kubernetes 1.20 on this machine, for the end-to-end tests:
#   etcd, kube-apiserver, kube-controller-manager  (scripts/install-control-plane.sh)
#   kube-scheduler, kubelet, kube-proxy (iptables) (scripts/cluster/install-binaries.sh)
#   containerd + runc (Debian) behind a wrapper that clamps negative oom_score_adj
#   a CNI bridge bfbr0 (pods 10.88.0.0/16, the host 10.88.0.1; Services 10.96.0.0/16)
#   a guard that drops (and counts) pod traffic to anything but the pod range, the
#   Service range and the bridge address: scripts/cluster/guard-drops.sh prints the count.
# Pods reach the apiserver through the `kubernetes` Service (10.96.0.1:443 ->
# 10.88.0.1:16443); they get an empty resolv.conf (no DNS here); images come only from
# the local archives (scripts/cluster/build-images.sh), never from a registry.
#
# Idempotent: when the cluster is up and healthy it only prints the kubeconfig path;
# otherwise it tears down whatever is left (down.sh) and starts afresh. Run as root.
# On failure it tears down again (logs stay in $BOTFLEET_CLUSTER_DIR/logs) unless
# BOTFLEET_CLUSTER_KEEP_ON_FAILURE=1.
# Prints the kubeconfig path on stdout, progress on stderr.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

need_root
take_lock
BEGAN=$SECONDS
UP_TIMEOUT="${BOTFLEET_CLUSTER_UP_TIMEOUT:-180}"

ensure_packages containerd runc containernetworking-plugins iptables conntrack buildah
KUBECTL="$(kubectl_bin)"

# ---- already up? -------------------------------------------------------------------------
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)
healthy() {
  [[ -f "$RUN_DIR/up-complete" ]] || return 1
  local c
  for c in "${COMPONENTS[@]}"; do pid_alive "$(component_pid "$c")" || return 1; done
  [[ "$(kc get --raw /readyz 2>/dev/null)" == ok ]] || return 1
  [[ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
if healthy; then
  log "already up ($APISERVER_URL)"
  echo "$KUBECONFIG_PATH"
  exit 0
fi

# ---- leftovers of an earlier run: tear them down first -----------------------------------
if [[ -d "$RUN_DIR" && -n "$(ls -A "$RUN_DIR" | grep -vx logs || true)" ]] || ip link show "$BRIDGE" >/dev/null 2>&1 \
   || [[ -d "$ETCD_DIR" ]]; then
  log "cleaning up an earlier run"
  BOTFLEET_CLUSTER_LOCKED=1 "$CLUSTER_SCRIPTS/down.sh"
fi
if [[ -n "$(cluster_chains iptables)" ]]; then
  die "iptables already holds Kubernetes/CNI chains ($(cluster_chains iptables | head -3 | paste -sd' ')...):" \
      "this machine looks like a Kubernetes node already. If they are left from this harness, run $CLUSTER_SCRIPTS/down.sh"
fi

# ---- preconditions -------------------------------------------------------------------------
for net in "$POD_CIDR" "$SERVICE_CIDR"; do
  clash="$( { ip -4 route show match "$net"; ip -4 route show root "$net"; } | grep -v '^default' | sort -u || true)"
  [[ -z "$clash" ]] || die "$net collides with a route of this machine: $clash"
done
for port in "$APISERVER_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" 10250 10248 10249 10256; do
  [[ -z "$(ss -Hltn "sport = :$port")" ]] || die "port $port is in use: $(ss -Hltnp "sport = :$port")"
done

"$CLUSTER_SCRIPTS/install-binaries.sh"
for b in "$CP_BIN/etcd" "$CP_BIN/kube-apiserver" "$CP_BIN/kube-controller-manager" \
         "$NODE_BIN/kube-scheduler" "$NODE_BIN/kubelet" "$NODE_BIN/kube-proxy" "$NODE_BIN/pause"; do
  [[ -x "$b" ]] || die "missing $b"
done

on_exit() {
  local rc=$?
  if ((rc != 0)); then
    log "up failed (exit $rc); logs: $LOG_DIR"
    if [[ "${BOTFLEET_CLUSTER_KEEP_ON_FAILURE:-}" != 1 ]]; then
      log "tearing down (BOTFLEET_CLUSTER_KEEP_ON_FAILURE=1 keeps the cluster for debugging)"
      BOTFLEET_CLUSTER_LOCKED=1 "$CLUSTER_SCRIPTS/down.sh" || true
    fi
  fi
}
trap on_exit EXIT

# ---- layout and host state -----------------------------------------------------------------
rm -rf "$LOG_DIR"
mkdir -p "$RUN_DIR" "$LOG_DIR" "$PID_DIR" "$PKI_DIR" "$HOST_STATE" "$CONTAINERD_DIR" "$KUBELET_DIR" \
         "$CNI_DIR/net.d" "$CNI_DIR/ipam" "$ETCD_DIR"
chmod 700 "$RUN_DIR" "$PKI_DIR" "$ETCD_DIR"
for s in "${SAVED_SYSCTLS[@]}"; do
  v="$(sysctl -n "$s" 2>/dev/null)" && printf '%s=%s\n' "$s" "$v"
done >"$HOST_STATE/sysctl"
# Paths outside $RUN_DIR that Kubernetes 1.20 and containerd use whatever their flags
# say: container logs (/var/log/pods, /var/log/containers), the device-plugin socket
# (/var/lib/kubelet/device-plugins), CNI result caches (/var/lib/cni), a lock in
# /etc/cni/net.d, shim sockets (/run/containerd/s), the containers' cgroups
# (<hierarchy>/k8s.io/<id>). Record what was there so down.sh removes only what the
# cluster made.
for d in "${HOST_PATHS[@]}"; do
  if [[ -e "$d" ]]; then find "$d" -maxdepth 2; fi
done >"$HOST_STATE/host-paths"
cgroup_parents >"$HOST_STATE/cgroup-parents"

# ---- PKI, tokens, kubeconfigs --------------------------------------------------------------
log "generating the PKI"
(
  cd "$PKI_DIR"
  umask 077
  ossl() { openssl "$@" 2>/dev/null; }
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt \
    -days 365 -subj "/CN=botfleet-cluster-ca"
  sign() { # name subject extensions
    ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
    printf '%s\n' "$3" >"$1.ext"
    ossl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extfile "$1.ext" -out "$1.crt"
    rm -f "$1.csr" "$1.ext"
  }
  sign apiserver "/CN=kube-apiserver" "$(printf '%s\n' \
    "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:$BRIDGE_IP,IP:$KUBERNETES_SERVICE_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$(printf '%s\n' \
    "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=clientAuth")"
  ossl genrsa -out service-account.key 2048
  ossl rsa -in service-account.key -pubout -out service-account.pub
  chmod 644 ca.crt
)
token() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
ADMIN_TOKEN="$(token)"; KCM_TOKEN="$(token)"; SCHED_TOKEN="$(token)"; KUBELET_TOKEN="$(token)"; PROXY_TOKEN="$(token)"
cat >"$PKI_DIR/tokens.csv" <<EOT
$ADMIN_TOKEN,botfleet-admin,botfleet-admin,"system:masters"
$KCM_TOKEN,system:kube-controller-manager,system:kube-controller-manager,"system:masters"
$SCHED_TOKEN,system:kube-scheduler,system:kube-scheduler
$KUBELET_TOKEN,system:node:$NODE_NAME,system:node:$NODE_NAME,"system:nodes"
$PROXY_TOKEN,system:kube-proxy,system:kube-proxy
EOT
CA_DATA="$(base64 -w0 <"$PKI_DIR/ca.crt")"
kubeconfig() { # file user token
  (umask 077 && cat >"$1") <<EOT
apiVersion: v1
kind: Config
clusters:
- name: botfleet-local
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $CA_DATA
users:
- name: $2
  user:
    token: $3
contexts:
- name: botfleet-local
  context:
    cluster: botfleet-local
    user: $2
    namespace: default
current-context: botfleet-local
EOT
}
kubeconfig "$KUBECONFIG_PATH" botfleet-admin "$ADMIN_TOKEN"
kubeconfig "$RUN_DIR/controller-manager.kubeconfig" system:kube-controller-manager "$KCM_TOKEN"
kubeconfig "$RUN_DIR/scheduler.kubeconfig" system:kube-scheduler "$SCHED_TOKEN"
kubeconfig "$RUN_DIR/kubelet.kubeconfig" "system:node:$NODE_NAME" "$KUBELET_TOKEN"
kubeconfig "$RUN_DIR/kube-proxy.kubeconfig" system:kube-proxy "$PROXY_TOKEN"

# ---- bridge and guard ----------------------------------------------------------------------
log "creating bridge $BRIDGE ($BRIDGE_IP on $POD_CIDR) and the egress guard"
ip link add "$BRIDGE" type bridge
ip addr add "$BRIDGE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Guard: every packet that enters through the bridge (all a pod sends) is judged in mangle
# INPUT/FORWARD, after nat PREROUTING: a Service's real destination counts, and mangle is
# a table kube-proxy and the kubelet leave alone. Allowed: the pod range (pods, and the
# host's 10.88.0.1), the Service range, replies to connections a pod did not open.
# Everything else is counted, logged (rate-limited, "botfleet-guard: " in dmesg), dropped.
sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
iptables -t mangle -N "$GUARD_CHAIN"
iptables -t mangle -A "$GUARD_CHAIN" -d "$POD_CIDR" -j RETURN
iptables -t mangle -A "$GUARD_CHAIN" -d "$SERVICE_CIDR" -j RETURN
iptables -t mangle -A "$GUARD_CHAIN" -d "$BRIDGE_IP/32" -j RETURN
# A pod answering a connection the host opened (e.g. to a ClusterIP: the reply is
# un-masqueraded back to the host's own address before it reaches mangle INPUT).
iptables -t mangle -A "$GUARD_CHAIN" -m conntrack --ctdir REPLY -j RETURN
iptables -t mangle -A "$GUARD_CHAIN" -m limit --limit 10/min -j LOG --log-prefix "botfleet-guard: " 2>/dev/null || true
iptables -t mangle -A "$GUARD_CHAIN" -m comment --comment "botfleet-guard-drop" -j DROP
for hook in INPUT FORWARD; do iptables -t mangle -I "$hook" 1 -i "$BRIDGE" -j "$GUARD_CHAIN"; done
# IPv6: pods get no IPv6 address from the CNI config; anything but link-local/multicast is dropped.
if ip6tables -t mangle -N "$GUARD_CHAIN" 2>/dev/null; then
  ip6tables -t mangle -A "$GUARD_CHAIN" -d fe80::/10 -j RETURN
  ip6tables -t mangle -A "$GUARD_CHAIN" -d ff00::/8 -j RETURN
  ip6tables -t mangle -A "$GUARD_CHAIN" -m conntrack --ctdir REPLY -j RETURN
  ip6tables -t mangle -A "$GUARD_CHAIN" -m comment --comment "botfleet-guard-drop" -j DROP
  for hook in INPUT FORWARD; do ip6tables -t mangle -I "$hook" 1 -i "$BRIDGE" -j "$GUARD_CHAIN"; done
fi

start_component() { # name binary args...
  local name=$1
  shift
  umask 022
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PID_DIR/$name.pid"
}
# Polls `check` (a command) until it succeeds; fails early when `component` exits.
wait_for() { # what component timeout-seconds command...
  local what=$1 comp=$2 timeout=$3 deadline
  shift 3
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$(component_pid "$comp")"; then
      log "$comp exited while waiting for $what; last lines of $LOG_DIR/$comp.log:"
      tail -n 30 "$LOG_DIR/$comp.log" >&2 || true
      return 1
    fi
    if ((SECONDS > deadline)); then
      log "$what not ready after ${timeout}s; last lines of $LOG_DIR/$comp.log:"
      tail -n 30 "$LOG_DIR/$comp.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

# ---- control plane -------------------------------------------------------------------------
log "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler"
ETCD_URL="http://127.0.0.1:$ETCD_PORT"
PEER_URL="http://127.0.0.1:$ETCD_PEER_PORT"
start_component etcd "$CP_BIN/etcd" --name=default --data-dir="$ETCD_DIR/data" \
  --listen-client-urls="$ETCD_URL" --advertise-client-urls="$ETCD_URL" \
  --listen-peer-urls="$PEER_URL" --initial-advertise-peer-urls="$PEER_URL" \
  --initial-cluster="default=$PEER_URL" --listen-metrics-urls= --log-level=warn
wait_for "etcd" etcd 60 curl -fsS "$ETCD_URL/health"

start_component kube-apiserver "$CP_BIN/kube-apiserver" \
  --etcd-servers="$ETCD_URL" \
  --advertise-address="$BRIDGE_IP" --bind-address="$BRIDGE_IP" --secure-port="$APISERVER_PORT" --insecure-port=0 \
  --tls-cert-file="$PKI_DIR/apiserver.crt" --tls-private-key-file="$PKI_DIR/apiserver.key" \
  --client-ca-file="$PKI_DIR/ca.crt" --token-auth-file="$PKI_DIR/tokens.csv" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI_DIR/service-account.pub" \
  --service-account-signing-key-file="$PKI_DIR/service-account.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --kubelet-client-certificate="$PKI_DIR/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI_DIR/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP \
  --allow-privileged=true --profiling=false --v=1
wait_for "kube-apiserver /readyz" kube-apiserver 90 \
  curl -fsS --cacert "$PKI_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$APISERVER_URL/readyz"

start_component kube-controller-manager "$CP_BIN/kube-controller-manager" \
  --kubeconfig="$RUN_DIR/controller-manager.kubeconfig" \
  --controllers='*' --leader-elect=false --port=0 --secure-port=0 \
  --service-account-private-key-file="$PKI_DIR/service-account.key" \
  --root-ca-file="$PKI_DIR/ca.crt" \
  --cluster-signing-cert-file="$PKI_DIR/ca.crt" --cluster-signing-key-file="$PKI_DIR/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --flex-volume-plugin-dir="$RUN_DIR/kcm-volume-plugins" \
  --profiling=false --v=1
start_component kube-scheduler "$NODE_BIN/kube-scheduler" \
  --kubeconfig="$RUN_DIR/scheduler.kubeconfig" --leader-elect=false --port=0 --secure-port=0 \
  --profiling=false --v=1

# ---- containerd ----------------------------------------------------------------------------
log "starting containerd"
RUNC="$(command -v runc || echo /usr/sbin/runc)"
WRAPPER="$NODE_BIN/runc-oom-wrapper"
sed "s#@RUNC@#$RUNC#" "$CLUSTER_SCRIPTS/runc-oom-wrapper.sh" >"$WRAPPER.tmp"
chmod 755 "$WRAPPER.tmp"
mv "$WRAPPER.tmp" "$WRAPPER"
cat >"$CONTAINERD_DIR/config.toml" <<EOT
version = 2
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
oom_score = 0
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = ""
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$WRAPPER"
        Root = "$CONTAINERD_DIR/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_DIR/net.d"
    max_conf_num = 1
EOT
cat >"$CNI_DIR/net.d/10-botfleet.conflist" <<EOT
{
  "cniVersion": "0.4.0",
  "name": "botfleet",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP" }]],
        "dataDir": "$CNI_DIR/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOT
start_component containerd containerd --config "$CONTAINERD_DIR/config.toml"
wait_for "containerd" containerd 60 ctr --address "$CONTAINERD_SOCK" version

# The sandbox image and whatever build-images.sh built: all from local archives.
"$CLUSTER_SCRIPTS/build-images.sh" --pause-only >&2
shopt -s nullglob
for archive in "$IMAGES_DIR"/*.tar; do
  log "importing $(basename "$archive")"
  ctr_k8s images import "$archive" >/dev/null
done
shopt -u nullglob
grep -qxF "$PAUSE_IMAGE" <<<"$(ctr_k8s images ls -q)" || die "the sandbox image $PAUSE_IMAGE is not in containerd"

# ---- kubelet and kube-proxy ----------------------------------------------------------------
log "starting kubelet and kube-proxy"
# No nameserver: pods resolve nothing (glibc then tries the pod's own loopback and fails
# at once). The options line keeps the file non-empty: containerd copies the host's
# /etc/resolv.conf into a sandbox whose DNS config is entirely empty.
printf '%s\n' "# botfleet local cluster: no DNS" "options timeout:1 attempts:1" >"$RUN_DIR/resolv.conf"
# Eviction and image GC by absolute amounts, never by percentage: this machine's disk is
# shared and its free share varies (a CI run once saw the node go DiskPressure, tainted
# and unschedulable, with gigabytes still free); image GC would also delete the images
# imported for the run before a pod uses them.
start_component kubelet "$NODE_BIN/kubelet" \
  --kubeconfig="$RUN_DIR/kubelet.kubeconfig" \
  --hostname-override="$NODE_NAME" --node-ip="$BRIDGE_IP" --address="$BRIDGE_IP" \
  --read-only-port=0 --healthz-bind-address=127.0.0.1 \
  --root-dir="$KUBELET_DIR" --cert-dir="$KUBELET_DIR/pki" \
  --volume-plugin-dir="$KUBELET_DIR/volume-plugins" --seccomp-profile-root="$KUBELET_DIR/seccomp" \
  --container-runtime=remote --container-runtime-endpoint="unix://$CONTAINERD_SOCK" \
  --pod-infra-container-image="$PAUSE_IMAGE" \
  --cgroup-driver=cgroupfs --cgroups-per-qos=false --enforce-node-allocatable= \
  --fail-swap-on=false --oom-score-adj=0 \
  --resolv-conf="$RUN_DIR/resolv.conf" --cluster-domain=cluster.local \
  --anonymous-auth=false --client-ca-file="$PKI_DIR/ca.crt" --authorization-mode=AlwaysAllow \
  --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
  --eviction-hard='memory.available<100Mi,nodefs.available<256Mi,imagefs.available<256Mi' \
  --v=1
start_component kube-proxy "$NODE_BIN/kube-proxy" \
  --kubeconfig="$RUN_DIR/kube-proxy.kubeconfig" --hostname-override="$NODE_NAME" \
  --proxy-mode=iptables --cluster-cidr="$POD_CIDR" --nodeport-addresses="$BRIDGE_IP/32" \
  --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 \
  --oom-score-adj=0 --conntrack-max-per-core=0 \
  --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
  --v=1

# ---- ready? --------------------------------------------------------------------------------
node_ready() {
  [[ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}
wait_for "node $NODE_NAME Ready" kubelet "$UP_TIMEOUT" node_ready
# The node lifecycle controller lifts node.kubernetes.io/not-ready once the node is Ready.
no_taints() { [[ -z "$(kc get node "$NODE_NAME" -o jsonpath='{.spec.taints}')" ]]; }
if ! wait_for "node $NODE_NAME untainted" kube-controller-manager 60 no_taints; then
  log "lifting the taints by hand"
  kc taint node "$NODE_NAME" node.kubernetes.io/not-ready- >/dev/null 2>&1 || true
fi
default_sa() { kc get serviceaccount default -n default; }
wait_for "ServiceAccount default/default" kube-controller-manager 60 default_sa
# Storage: no provisioner runs here, so a default StorageClass with pre-made hostPath
# volumes (under $RUN_DIR/volumes, gone at down) serves PersistentVolumeClaims such as the
# engine StatefulSets' `data` claims.
VOLUMES="${BOTFLEET_CLUSTER_VOLUMES:-16}"
{
  cat <<EOT
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: botfleet-local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Retain
volumeBindingMode: Immediate
EOT
  for i in $(seq -w 1 "$VOLUMES"); do
    d="$RUN_DIR/volumes/pv$i"
    mkdir -p "$d"
    chmod 0777 "$d"
    cat <<EOT
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: botfleet-local-pv$i
  labels: {botfleet.dev/local-volume: "true"}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: botfleet-local
  hostPath: {path: "$d", type: Directory}
EOT
  done
} | kc apply -f - >/dev/null
proxy_rules() { [[ "$(iptables -t nat -S KUBE-SERVICES)" == *"$KUBERNETES_SERVICE_IP/32"* ]]; }
wait_for "kube-proxy rules for the kubernetes Service" kube-proxy 60 proxy_rules

touch "$RUN_DIR/up-complete"
log "up in $((SECONDS - BEGAN)) s: $APISERVER_URL, node $NODE_NAME; kubeconfig:"
echo "$KUBECONFIG_PATH"
