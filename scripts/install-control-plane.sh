#!/usr/bin/env bash
# Builds (once) and caches a real local Kubernetes control plane for the tests:
#   etcd                    - Debian package etcd-server
#   kube-apiserver          - built from Debian bookworm's source package `kubernetes`
#   kube-controller-manager - same source tree
# Idempotent: a warm run only checks the cache and exits.
# Prints nothing but progress; the binaries land in $BOTFLEET_CONTROL_PLANE_DIR/bin.
set -euo pipefail

VERSION=v1.20.2
CACHE="${BOTFLEET_CONTROL_PLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/botfleet/control-plane/$VERSION}"
BIN="$CACHE/bin"

# The version stamped into the binaries. In GOPATH mode the packages live under vendor/;
# /version of kube-apiserver comes from client-go's copy (the aggregator's), --version
# from component-base's, so both are set.
LDFLAGS="-s -w"
for VPKG in k8s.io/kubernetes/vendor/k8s.io/component-base/version \
            k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $VPKG.gitVersion=$VERSION -X $VPKG.gitMajor=1 -X $VPKG.gitMinor=20 -X $VPKG.gitTreeState=clean"
done
# A binary counts only if built with these flags (recorded next to it, and not
# replaced since): clients read the server version, and older builds stamped none.
built() {
  [[ -x "$BIN/$1" && "$(cat "$BIN/.$1.ldflags" 2>/dev/null)" == "$LDFLAGS" && ! "$BIN/$1" -nt "$BIN/.$1.ldflags" ]]
}

if built kube-apiserver && built kube-controller-manager && [[ -x "$BIN/etcd" ]]; then
  echo "control plane: cached in $BIN"
  exit 0
fi

SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi

log() { echo "control plane: $*" >&2; }

mkdir -p "$BIN" "$CACHE/work"
WORK="$CACHE/work"

# 1. Debian packages: etcd, Go 1.19, dpkg-dev (for apt-get source), reflect2 1.0.2 sources.
need=()
for p in etcd-server golang-go dpkg-dev golang-github-modern-go-reflect2-dev rsync; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  log "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# etcd-server's package starts a system etcd on 2379; the tests use their own ports,
# but a running system instance wastes memory, so stop it when we can.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true; fi
ETCD_BIN="$(command -v etcd || echo /usr/bin/etcd)"
ln -sf "$ETCD_BIN" "$BIN/etcd"

# 2. The kubernetes source package, through a private apt config with a deb-src line
#    for the same mirror the machine already uses.
SRC_DIR="$WORK/src"
if [[ ! -d "$SRC_DIR/debian-src" ]]; then
  # The first bookworm main mirror the machine uses (deb822 "URIs:" or one-line "deb" form).
  MIRROR="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | sed -nE -e 's/^URIs:[[:space:]]*(\S+).*/\1/p' -e 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(\S+).*/\2/p' \
            | grep -E '/debian/?$' | head -1 || true)"
  MIRROR="${MIRROR:-http://deb.debian.org/debian}"
  MIRROR="${MIRROR%/}"
  log "downloading source package kubernetes from $MIRROR"
  APT="$WORK/apt"
  mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/etc/sources.list.d" "$APT/etc/preferences.d"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm main" >"$APT/etc/sources.list"
  APTOPTS=(-o "Dir::Etc=$APT/etc" -o "Dir::Etc::sourcelist=$APT/etc/sources.list"
           -o "Dir::Etc::sourceparts=$APT/etc/sources.list.d" -o "Dir::State=$APT"
           -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
           -o "Acquire::Languages=none" -o "APT::Sandbox::User=root")
  apt-get "${APTOPTS[@]}" update -qq
  rm -rf "$SRC_DIR.tmp" && mkdir -p "$SRC_DIR.tmp"
  (cd "$SRC_DIR.tmp" && apt-get "${APTOPTS[@]}" source --download-only kubernetes >/dev/null)
  (cd "$SRC_DIR.tmp" && dpkg-source --no-check -x kubernetes_*.dsc debian-src >/dev/null)
  rm -rf "$SRC_DIR" && mv "$SRC_DIR.tmp" "$SRC_DIR"
fi

# 3. GOPATH layout: $GOPATH/src/k8s.io/kubernetes, built with GO111MODULE=off.
export GOPATH="$WORK/gopath"
K8S="$GOPATH/src/k8s.io/kubernetes"
if [[ ! -f "$K8S/.botfleet-prepared" ]]; then
  log "preparing GOPATH tree"
  rm -rf "$K8S" && mkdir -p "$(dirname "$K8S")"
  cp -a "$SRC_DIR/debian-src" "$K8S"
  # reflect2 1.0.1 (vendored) crashes with SIGSEGV under Go >= 1.18 once a custom
  # resource is served; Debian ships 1.0.2.
  R2=/usr/share/gocode/src/github.com/modern-go/reflect2
  rm -rf "$K8S/vendor/github.com/modern-go/reflect2"
  mkdir -p "$K8S/vendor/github.com/modern-go/reflect2"
  rsync -a --exclude '*_test.go' "$R2/" "$K8S/vendor/github.com/modern-go/reflect2/"
  touch "$K8S/.botfleet-prepared"
fi

export GO111MODULE=off GOFLAGS= CGO_ENABLED=0 GOCACHE="$WORK/gocache"
cd "$K8S"

# 4. Generate the OpenAPI definitions the apiserver compiles in.
if [[ ! -s pkg/generated/openapi/zz_generated.openapi.go ]]; then
  log "building openapi-gen"
  go build -o "$WORK/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  log "generating pkg/generated/openapi"
  pkgs="$(grep -R --include='*.go' -l '+k8s:openapi-gen=' ./pkg ./vendor/k8s.io 2>/dev/null \
          | grep -v -e code-generator -e sample-apiserver -e '_test.go' \
          | xargs -n1 dirname | sort -u \
          | sed -e 's#^\./vendor/##' -e 's#^\./#k8s.io/kubernetes/#' | paste -sd, -)"
  "$WORK/openapi-gen" --input-dirs "$pkgs" \
    --output-package k8s.io/kubernetes/pkg/generated/openapi \
    --output-base "$GOPATH/src" \
    --go-header-file hack/boilerplate/boilerplate.generatego.txt \
    -O zz_generated.openapi \
    --report-filename /dev/null
fi

# 5. Build the two binaries.
for cmd in kube-apiserver kube-controller-manager; do
  if ! built "$cmd"; then
    log "building $cmd (a cold build takes several minutes)"
    go build -ldflags "$LDFLAGS" -o "$BIN/$cmd.tmp" "./cmd/$cmd"
    mv "$BIN/$cmd.tmp" "$BIN/$cmd"
    echo "$LDFLAGS" >"$BIN/.$cmd.ldflags"
  fi
done
log "ready in $BIN"
