#!/usr/bin/env bash
# Smoke check of the local cluster and the runtime images (run up.sh and
# build-images.sh first). In namespace botfleet-smoke:
#   1. the engine image runs the quickstart bot (`botfleet-bot run`, synthetic feed, the
#      config from a ConfigMap, SQLite on a PersistentVolumeClaim) in a pod with the
#      restricted security context the operator renders (non-root, no capabilities,
#      seccomp RuntimeDefault, read-only root, no privilege escalation), and gets Ready;
#   2. a ClusterIP Service in front of it answers /healthz and /metrics from the host;
#   3. from inside the pod's network namespace, the apiserver answers through the
#      `kubernetes` Service (what in-cluster clients use);
#   4. the operator image runs `botfleet-operator --help` to completion (if built);
#   5. the egress guard dropped no packet meanwhile.
# Deletes the namespace at the end unless --keep. Exits non-zero on the first failure.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need_root
KEEP=0
[[ "${1:-}" == --keep ]] && KEEP=1
BEGAN=$SECONDS
KUBECTL="$(kubectl_bin)"
NS=botfleet-smoke
ENGINE_IMAGE=botfleet/engine:dev
OPERATOR_IMAGE=botfleet/operator:dev

[[ -f "$RUN_DIR/up-complete" && "$(kc get --raw /readyz 2>/dev/null)" == ok ]] \
  || die "the cluster is not up: run $CLUSTER_SCRIPTS/up.sh"
images="$(ctr_k8s images ls -q)"
grep -qxF "docker.io/$ENGINE_IMAGE" <<<"$images" || die "$ENGINE_IMAGE is not in the cluster: run $CLUSTER_SCRIPTS/build-images.sh"
HAVE_OPERATOR=0
grep -qxF "docker.io/$OPERATOR_IMAGE" <<<"$images" && HAVE_OPERATOR=1
DROPS_BEFORE="$("$CLUSTER_SCRIPTS/guard-drops.sh")"

fail() {
  log "smoke FAILED: $*"
  kc -n "$NS" get pods,svc,pvc -o wide >&2 || true
  kc -n "$NS" describe pod engine 2>/dev/null | tail -25 >&2 || true
  kc -n "$NS" logs engine --tail=30 >&2 2>/dev/null || true
  exit 1
}
cleanup() {
  if ((!KEEP)); then kc delete namespace "$NS" --wait=true --timeout=60s >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

kc delete namespace "$NS" --wait=true --timeout=60s >/dev/null 2>&1 || true
kc create namespace "$NS" >/dev/null
kc -n "$NS" create configmap engine-config --from-file=bot.yaml="$REPO_ROOT/manifests/examples/quickstart.yaml" >/dev/null
RESTRICTED='{runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}'
kc -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: engine
  labels: {app: engine}
spec:
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: engine
    image: $ENGINE_IMAGE
    imagePullPolicy: Never
    args: [run, --config, /etc/botfleet/bot.yaml, --listen, "0.0.0.0:8080", --feed, synthetic, --speed, "3600", --insecure-no-auth]
    env:
    - {name: BOTFLEET_DATABASE_URL, value: "sqlite:///var/lib/botfleet/bot.db?mode=rwc"}
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 2}
    livenessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 10}
    securityContext: $RESTRICTED
    resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
    volumeMounts:
    - {name: config, mountPath: /etc/botfleet}
    - {name: data, mountPath: /var/lib/botfleet}
  volumes:
  - {name: config, configMap: {name: engine-config}}
  - {name: data, persistentVolumeClaim: {claimName: data}}
---
apiVersion: v1
kind: Service
metadata: {name: engine}
spec:
  selector: {app: engine}
  ports: [{name: http, port: 8080, targetPort: http}]
EOF
if ((HAVE_OPERATOR)); then
  kc -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: operator-help}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: operator
    image: $OPERATOR_IMAGE
    imagePullPolicy: Never
    args: [--help]
    securityContext: $RESTRICTED
EOF
fi

# 1. Ready.
t0=$SECONDS
kc -n "$NS" wait --for=condition=Ready pod/engine --timeout=120s >/dev/null || fail "the engine pod did not get Ready"
log "engine pod Ready in $((SECONDS - t0)) s (pod IP $(kc -n "$NS" get pod engine -o jsonpath='{.status.podIP}'))"
uid="$(kc -n "$NS" exec engine -- /usr/local/bin/botfleet-bot --version 2>/dev/null || true)"
[[ -n "$uid" ]] && log "kubectl exec: $uid"

# 2. The Service from the host (kube-proxy's iptables rules, from the host's OUTPUT path).
SVC_IP="$(kc -n "$NS" get svc engine -o jsonpath='{.spec.clusterIP}')"
ok=0
for _ in $(seq 30); do
  if curl -fsS -m 3 "http://$SVC_IP:8080/healthz" >/dev/null 2>&1; then ok=1; break; fi
  sleep 1
done
((ok)) || fail "http://$SVC_IP:8080/healthz (ClusterIP) did not answer"
metrics="$(curl -fsS -m 5 "http://$SVC_IP:8080/metrics")" || fail "http://$SVC_IP:8080/metrics did not answer"
series="$(grep -c '^botfleet_' <<<"$metrics" || true)"
((series > 0)) || fail "/metrics holds no botfleet_ series"
log "ClusterIP $SVC_IP:8080 answers /healthz and /metrics ($series botfleet_ samples)"

# 3. The apiserver from the pod's network namespace, through the kubernetes Service.
cid="$(kc -n "$NS" get pod engine -o jsonpath='{.status.containerStatuses[0].containerID}')"
pid="$(ctr_k8s tasks ls | awk -v id="${cid#containerd://}" '$1 == id {print $2}')"
[[ -n "$pid" ]] || fail "no task for container $cid"
version="$(nsenter --net="/proc/$pid/ns/net" curl -fsS -m 5 --cacert "$PKI_DIR/ca.crt" \
  "https://$KUBERNETES_SERVICE_IP/version" | sed -n 's/.*"gitVersion": "\([^"]*\)".*/\1/p')" \
  || fail "the apiserver did not answer https://$KUBERNETES_SERVICE_IP from the pod's network"
log "from the pod's network: https://$KUBERNETES_SERVICE_IP/version says $version"

# 4. The operator image.
if ((HAVE_OPERATOR)); then
  phase=
  for _ in $(seq 60); do
    phase="$(kc -n "$NS" get pod operator-help -o jsonpath='{.status.phase}')"
    [[ "$phase" == Succeeded || "$phase" == Failed ]] && break
    sleep 1
  done
  [[ "$phase" == Succeeded ]] || fail "operator-help ended $phase: $(kc -n "$NS" logs operator-help 2>&1 | tail -5)"
  log "operator image: \`botfleet-operator --help\` Succeeded ($(kc -n "$NS" logs operator-help | head -1))"
else
  log "operator image not built: skipped (build-images.sh operator)"
fi

# 5. The guard.
DROPS_AFTER="$("$CLUSTER_SCRIPTS/guard-drops.sh")"
((DROPS_AFTER == DROPS_BEFORE)) || fail "the egress guard dropped $((DROPS_AFTER - DROPS_BEFORE)) packets (guard-drops.sh -v)"
log "egress guard: 0 packets dropped during the smoke ($DROPS_AFTER since up)"
log "smoke passed in $((SECONDS - BEGAN)) s"
