#!/usr/bin/env bash
# Builds the images the local cluster runs, without any registry:
#   botfleet.local/pause:3.4.1   the sandbox image (pause built by install-binaries.sh)
#   botfleet/runtime-base:dev    the runtime base: Debian bookworm's libc6, libgcc-s1,
#                                ca-certificates, tzdata and netbase unpacked with
#                                dpkg-deb (no shell, no package manager), user 65532
#                                - what gcr.io/distroless/cc-debian12:nonroot provides
#   botfleet/engine:dev          the runtime stage of bot/Dockerfile on that base
#   botfleet/operator:dev        the runtime stage of operator/Dockerfile on that base
#   botfleet/exchange-sim:dev    (only when asked: `sim`) the test exchange simulator
#                                (botfleet-tests' exchange-sim) on the same base; it
#                                ships nowhere, so it has no Dockerfile
# with the release binaries cargo builds on the host (in $RELEASE_TARGET, see lib.sh). The archives land
# in ~/.cache/botfleet/cluster/images (up.sh imports them at every start) and, when the
# cluster is up, are imported into its containerd (namespace k8s.io) right away.
# Pods name them `botfleet/engine:dev` / `botfleet/operator:dev` with
# imagePullPolicy: Never (or IfNotPresent).
#
# Options: --pause-only (what up.sh needs), --no-cargo (use the release binaries as they are).
# Buildah keeps its storage (vfs driver: no mounts) in ~/.cache/botfleet/cluster/buildah.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

PAUSE_ONLY=0
CARGO=1
WANT=()
for arg in "$@"; do
  case "$arg" in
    --pause-only) PAUSE_ONLY=1 ;;
    --no-cargo) CARGO=0 ;;
    engine|operator|sim) WANT+=("$arg") ;;
    *) die "unknown argument $arg (usage: $0 [--pause-only] [--no-cargo] [engine] [operator] [sim])" ;;
  esac
done
((${#WANT[@]})) || WANT=(engine operator)
need_root
ensure_packages buildah containerd
BEGAN=$SECONDS

ENGINE_IMAGE=docker.io/botfleet/engine:dev
OPERATOR_IMAGE=docker.io/botfleet/operator:dev
SIM_IMAGE=docker.io/botfleet/exchange-sim:dev
BASE_IMAGE=localhost/botfleet/runtime-base:dev
mkdir -p "$IMAGES_DIR" "$BUILDAH_DIR"
bah() {
  buildah --root "$BUILDAH_DIR/root" --runroot "$BUILDAH_DIR/run" --storage-driver vfs "$@"
}
WORK="$(mktemp -d "${TMPDIR:-/tmp}/botfleet-images.XXXXXX")"
# Buildah keeps a blob-info cache in /var/lib/containers/cache whatever --root says, and
# a CNI lock in /etc/cni/net.d: remove them again unless they were there before.
BUILDAH_LITTER=()
for d in /var/lib/containers /etc/cni; do [[ -e "$d" ]] || BUILDAH_LITTER+=("$d"); done
cleanup() {
  rm -rf "$WORK"
  if ((${#BUILDAH_LITTER[@]})); then rm -rf "${BUILDAH_LITTER[@]}"; fi
}
trap cleanup EXIT

# Writes IMAGE as a docker-archive to IMAGES_DIR/NAME.tar (atomically).
save() { # image name
  rm -f "$IMAGES_DIR/.$2.tar.tmp"
  bah push --quiet "$1" "docker-archive:$IMAGES_DIR/.$2.tar.tmp:$1" >/dev/null
  mv "$IMAGES_DIR/.$2.tar.tmp" "$IMAGES_DIR/$2.tar"
}

# ---- pause -----------------------------------------------------------------------------------
PAUSE_BIN="$NODE_BIN/pause"
if [[ ! -x "$PAUSE_BIN" ]]; then "$CLUSTER_SCRIPTS/install-binaries.sh"; fi
if [[ ! -s "$IMAGES_DIR/pause.tar" || "$PAUSE_BIN" -nt "$IMAGES_DIR/pause.tar" ]]; then
  log "building $PAUSE_IMAGE"
  c="$(bah from --quiet scratch)"
  bah copy --quiet --chmod 0755 "$c" "$PAUSE_BIN" /pause >/dev/null
  bah config --entrypoint '["/pause"]' --cmd '' --user 65535:65535 "$c"
  bah commit --quiet --rm "$c" "$PAUSE_IMAGE" >/dev/null
  save "$PAUSE_IMAGE" pause
fi
if ((PAUSE_ONLY)); then exit 0; fi

# ---- runtime base ----------------------------------------------------------------------------
# Bookworm's packages, as the host has them listed (the binaries are built against the
# host's glibc, so the image carries the same release).
BASE_PACKAGES=(libc6 libgcc-s1 ca-certificates tzdata netbase base-files)
versions="$(for p in "${BASE_PACKAGES[@]}"; do apt-cache policy "$p" | awk -v p="$p" '/Candidate:/ {print p"="$2}'; done)"
if grep -q '=(none)' <<<"$versions" || [[ -z "$versions" ]]; then
  apt-get update -qq
  versions="$(for p in "${BASE_PACKAGES[@]}"; do apt-cache policy "$p" | awk -v p="$p" '/Candidate:/ {print p"="$2}'; done)"
fi
BASE_STAMP="$(printf '%s\n' "$versions" "$(sha256sum "$0" | cut -d' ' -f1)" | sha256sum | cut -c1-16)"
if [[ "$(cat "$BUILDAH_DIR/runtime-base.stamp" 2>/dev/null)" != "$BASE_STAMP" ]] \
   || ! bah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  log "building $BASE_IMAGE from $(paste -sd' ' <<<"$versions")"
  DEBS="$BUILDAH_DIR/debs"
  mkdir -p "$DEBS"
  # shellcheck disable=SC2046
  (cd "$DEBS" && apt-get -o APT::Sandbox::User=root download -q $(paste -sd' ' <<<"$versions") >/dev/null)
  ROOT="$WORK/rootfs"
  mkdir -p "$ROOT"
  for p in libc6 libgcc-s1 ca-certificates tzdata netbase; do
    v="$(sed -n "s/^$p=//p" <<<"$versions")"
    deb="$(ls "$DEBS/${p}_${v//:/%3a}_"*.deb | head -1)"
    dpkg-deb -x "$deb" "$ROOT"
  done
  # base-files: only the os-release.
  mkdir -p "$WORK/base-files"
  dpkg-deb -x "$(ls "$DEBS"/base-files_*.deb | head -1)" "$WORK/base-files"
  install -D -m 0644 "$WORK/base-files/usr/lib/os-release" "$ROOT/usr/lib/os-release"
  ln -sf ../usr/lib/os-release "$ROOT/etc/os-release"
  # No maintainer scripts ran: make the CA bundle as update-ca-certificates would
  # (every certificate the package ships, in its configuration order).
  mkdir -p "$ROOT/etc/ssl/certs"
  (cd "$ROOT/usr/share/ca-certificates" && find . -name '*.crt' | sed 's#^\./##' | LC_ALL=C sort \
     | while IFS= read -r crt; do cat "$crt"; done) >"$ROOT/etc/ssl/certs/ca-certificates.crt"
  # What a runtime image does not need: docs, manuals, locales, lintian, gconv modules
  # (the binaries do no iconv).
  rm -rf "$ROOT/usr/share/doc" "$ROOT/usr/share/man" "$ROOT/usr/share/locale" "$ROOT/usr/share/lintian" \
         "$ROOT/usr/share/ca-certificates" "$ROOT/usr/sbin" "$ROOT/usr/lib/x86_64-linux-gnu/gconv" \
         "$ROOT/usr/share/bug" "$ROOT/usr/share/info" "$ROOT/etc/ca-certificates" 2>/dev/null || true
  # Users as distroless has them (nonroot = 65532), no login shell anywhere.
  cat >"$ROOT/etc/passwd" <<EOT
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOT
  cat >"$ROOT/etc/group" <<EOT
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOT
  echo "hosts: files dns" >"$ROOT/etc/nsswitch.conf"
  mkdir -p "$ROOT/tmp" "$ROOT/home/nonroot" "$ROOT/root" "$ROOT/var/lib"
  chmod 1777 "$ROOT/tmp"
  chmod 0700 "$ROOT/home/nonroot" "$ROOT/root"
  chown 65532:65532 "$ROOT/home/nonroot"
  # The merged-/usr links of bookworm (dpkg-deb -x creates the real directories).
  for d in bin lib lib64 sbin; do
    if [[ -d "$ROOT/$d" && ! -L "$ROOT/$d" ]]; then
      mkdir -p "$ROOT/usr/$d"
      cp -a "$ROOT/$d/." "$ROOT/usr/$d/"
      rm -rf "${ROOT:?}/$d"
    fi
    [[ -d "$ROOT/usr/$d" ]] && ln -s "usr/$d" "$ROOT/$d"
  done
  if [[ -n "$(find "$ROOT" \( -name sh -o -name bash -o -name dash -o -name busybox \))" ]]; then
    die "the runtime base holds a shell: $(find "$ROOT" -name sh -o -name bash -o -name dash | head -3)"
  fi
  (cd "$ROOT" && find . ! -type d | sed 's#^\.##') >"$BUILDAH_DIR/runtime-base.files"
  tar -C "$ROOT" --numeric-owner -cf "$WORK/rootfs.tar" .
  c="$(bah from --quiet scratch)"
  bah add --quiet "$c" "$WORK/rootfs.tar" / >/dev/null
  bah config --user 65532:65532 --workingdir /home/nonroot \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --label "dev.botfleet.base-packages=$(paste -sd' ' <<<"$versions")" "$c"
  bah commit --quiet --rm "$c" "$BASE_IMAGE" >/dev/null
  echo "$BASE_STAMP" >"$BUILDAH_DIR/runtime-base.stamp"
fi

# ---- release binaries ------------------------------------------------------------------------
declare -A PACKAGE=([engine]=botfleet-bot [operator]=botfleet-operator [sim]=botfleet-tests)
declare -A BINARY=([engine]=botfleet-bot [operator]=botfleet-operator [sim]=exchange-sim)
declare -A DOCKERFILE=([engine]="$REPO_ROOT/bot/Dockerfile" [operator]="$REPO_ROOT/operator/Dockerfile")
declare -A IMAGE=([engine]="$ENGINE_IMAGE" [operator]="$OPERATOR_IMAGE" [sim]="$SIM_IMAGE")
cargo_args=()
missing=0
for name in "${WANT[@]}"; do
  cargo_args+=(-p "${PACKAGE[$name]}")
  [[ -x "$RELEASE_BIN/${BINARY[$name]}" ]] || missing=1
done
if ((CARGO || missing)); then
  log "cargo build --release ${cargo_args[*]}"
  (cd "$REPO_ROOT" && CARGO_TARGET_DIR="$RELEASE_TARGET" cargo build --release --locked "${cargo_args[@]}" --bins >&2)
fi
# Every shared library the binaries load must be in the base.
for name in "${WANT[@]}"; do
  bin="$RELEASE_BIN/${BINARY[$name]}"
  for lib in $(objdump -p "$bin" | awk '/NEEDED/ {print $2}'); do
    grep -q "/$lib\$" "$BUILDAH_DIR/runtime-base.files" \
      || die "$(basename "$bin") needs $lib, which the runtime base lacks: add its package to BASE_PACKAGES"
  done
done
# The engine's code an idle bot runs is laid out first (bot/build.rs); a list
# gone stale with a toolchain, dependency or feature change would quietly cost
# each bot pod ≈ 5 MB of resident code.
if [[ " ${WANT[*]} " == *" engine "* ]]; then
  "$REPO_ROOT/scripts/startup-symbols.sh" --check "$RELEASE_BIN/botfleet-bot" \
    || die "the engine binary's start-up layout is stale (see above)"
fi

# ---- the runtime stages ----------------------------------------------------------------------
# The project's Dockerfiles build the binary in a `build` stage and copy it into the
# runtime stage (FROM gcr.io/distroless/cc-debian12:nonroot). If a Dockerfile takes
# RUNTIME_BASE and BINARY_FROM build arguments (see docs/local-cluster.md), it is built
# as it is, with BINARY_FROM=prebuilt; otherwise its runtime stage (from the last FROM
# on) is built verbatim except for the base and the binary's source.
build_runtime() { # dockerfile binary image archive-name
  local dockerfile=$1 bin=$2 image=$3 name=$4 ctx="$WORK/ctx-$4"
  if grep -q '^ARG RUNTIME_BASE' "$dockerfile" && grep -q '^ARG BINARY_FROM' "$dockerfile"; then
    log "building $image: $dockerfile (BINARY_FROM=prebuilt)"
    bah bud --quiet --pull=never --isolation chroot --layers=false \
      --build-arg "RUNTIME_BASE=$BASE_IMAGE" --build-arg BINARY_FROM=prebuilt \
      -f "$dockerfile" -t "$image" "$REPO_ROOT" >/dev/null
  else
    log "building $image: runtime stage of $dockerfile"
    mkdir -p "$ctx/out"
    cp "$bin" "$ctx/out/"
    awk -v base="$BASE_IMAGE" '
      /^FROM[ \t]/ { n++ }
      { line[NR] = $0; stage[NR] = n }
      END {
        for (i = 1; i <= NR; i++) {
          if (stage[i] != n) continue
          l = line[i]
          if (l ~ /^FROM[ \t]/) { print "FROM " base; continue }
          sub(/^COPY[ \t]+--from=build[ \t]+\/out\//, "COPY out/", l)
          print l
        }
      }' "$dockerfile" >"$ctx/Dockerfile"
    grep -q -- '--from=' "$ctx/Dockerfile" && die "the runtime stage of $dockerfile copies from another stage: $(grep -- '--from=' "$ctx/Dockerfile")"
    bah bud --quiet --pull=never --isolation chroot --layers=false -f "$ctx/Dockerfile" -t "$image" "$ctx" >/dev/null
  fi
  save "$image" "$name"
}
# The simulator: its binary on the runtime base, nothing else.
build_plain() { # binary image archive-name
  local c
  c="$(bah from --quiet --pull=never "$BASE_IMAGE")"
  bah copy --quiet --chmod 0755 "$c" "$1" "/usr/local/bin/$(basename "$1")" >/dev/null
  bah config --entrypoint "[\"/usr/local/bin/$(basename "$1")\"]" --cmd '' --user 65532:65532 "$c"
  bah commit --quiet --rm "$c" "$2" >/dev/null
  save "$2" "$3"
}
for name in "${WANT[@]}"; do
  if [[ -n "${DOCKERFILE[$name]:-}" ]]; then
    build_runtime "${DOCKERFILE[$name]}" "$RELEASE_BIN/${BINARY[$name]}" "${IMAGE[$name]}" "$name"
  else
    build_plain "$RELEASE_BIN/${BINARY[$name]}" "${IMAGE[$name]}" "$name"
  fi
done
# Untagged leftovers of earlier builds.
bah rmi --prune >/dev/null 2>&1 || true

# ---- into the running cluster ----------------------------------------------------------------
if [[ -S "$CONTAINERD_SOCK" ]] && ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; then
  for name in "${WANT[@]}"; do
    ctr_k8s images import "$IMAGES_DIR/$name.tar" >/dev/null
    log "imported ${IMAGE[$name]} into the cluster's containerd"
  done
else
  log "the cluster is not up: up.sh will import the images"
fi
for name in "${WANT[@]}"; do
  log "$IMAGES_DIR/$name.tar ($(du -h "$IMAGES_DIR/$name.tar" | cut -f1))"
done
log "images built in $((SECONDS - BEGAN)) s"
