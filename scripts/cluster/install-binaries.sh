#!/usr/bin/env bash
# Builds (once) and caches the node binaries of the local cluster:
#   kubelet, kube-scheduler, kube-proxy - from the same Debian `kubernetes` source tree
#                                         and with the same flags as
#                                         scripts/install-control-plane.sh
#   pause                               - the sandbox process (build/pause/linux/pause.c)
# into ~/.cache/botfleet/cluster/v1.20.2/bin. Runs install-control-plane.sh first (it
# prepares the GOPATH tree). Idempotent: a warm run only checks the cache.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

"$REPO_ROOT/scripts/install-control-plane.sh" >&2

WORK="$CP_DIR/work"
K8S="$WORK/gopath/src/k8s.io/kubernetes"
[[ -f "$K8S/.botfleet-prepared" ]] || die "no prepared source tree in $K8S (install-control-plane.sh did not finish?)"

# The same version stamp as install-control-plane.sh.
LDFLAGS="-s -w"
for VPKG in k8s.io/kubernetes/vendor/k8s.io/component-base/version \
            k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $VPKG.gitVersion=$K8S_VERSION -X $VPKG.gitMajor=1 -X $VPKG.gitMinor=20 -X $VPKG.gitTreeState=clean"
done
built() {
  [[ -x "$NODE_BIN/$1" && "$(cat "$NODE_BIN/.$1.ldflags" 2>/dev/null)" == "$2" && ! "$NODE_BIN/$1" -nt "$NODE_BIN/.$1.ldflags" ]]
}
mkdir -p "$NODE_BIN"

export GOPATH="$WORK/gopath" GO111MODULE=off GOFLAGS='' CGO_ENABLED=0 GOCACHE="$WORK/gocache"
for cmd in kube-scheduler kube-proxy kubelet; do
  if ! built "$cmd" "$LDFLAGS"; then
    log "building $cmd"
    start=$SECONDS
    (cd "$K8S" && go build -ldflags "$LDFLAGS" -o "$NODE_BIN/$cmd.tmp" "./cmd/$cmd")
    mv "$NODE_BIN/$cmd.tmp" "$NODE_BIN/$cmd"
    echo "$LDFLAGS" >"$NODE_BIN/.$cmd.ldflags"
    log "built $cmd in $((SECONDS - start)) s"
  fi
done

# pause: static, as upstream builds it (CFLAGS of build/pause/Makefile).
PAUSE_FLAGS="-Os -Wall -Werror -static -DVERSION=v3.4.1-botfleet"
if ! built pause "$PAUSE_FLAGS"; then
  command -v gcc >/dev/null || ensure_packages gcc libc6-dev
  log "building pause"
  # shellcheck disable=SC2086
  gcc $PAUSE_FLAGS -o "$NODE_BIN/pause.tmp" "$K8S/build/pause/linux/pause.c"
  strip "$NODE_BIN/pause.tmp" 2>/dev/null || true
  mv "$NODE_BIN/pause.tmp" "$NODE_BIN/pause"
  echo "$PAUSE_FLAGS" >"$NODE_BIN/.pause.ldflags"
fi
log "node binaries ready in $NODE_BIN"
