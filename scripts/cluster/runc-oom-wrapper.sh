#!/bin/sh
# containerd's runc (BinaryName in the runc runtime options): clamps a negative
# oomScoreAdj to 0 in the OCI spec runc is about to apply, then runs the real runc.
#
# Why: root on this kind of machine lacks CAP_SYS_RESOURCE, so lowering
# /proc/self/oom_score_adj fails ("failed to update /proc/self/oom_score_adj:
# Permission denied", seen by the kubelet as "can't get final child's PID from pipe:
# EOF"), and the kubelet gives sandboxes -998 and Guaranteed containers -997.
# `runc create --bundle DIR` reads DIR/config.json; `runc exec --process FILE` reads FILE.
# up.sh installs this file with @RUNC@ replaced by the absolute path of runc.
RUNC=@RUNC@
prev=
for arg in "$@"; do
  case "$prev" in
    --bundle|-b) spec="$arg/config.json" ;;
    --process) spec="$arg" ;;
  esac
  case "$arg" in
    --bundle=*) spec="${arg#--bundle=}/config.json" ;;
    --process=*) spec="${arg#--process=}" ;;
  esac
  prev=$arg
done
if [ -n "${spec:-}" ] && [ -f "$spec" ] && grep -Eq '"oomScoreAdj": ?-' "$spec"; then
  sed -i -E 's/"oomScoreAdj": ?-[0-9]+/"oomScoreAdj":0/' "$spec"
fi
exec "$RUNC" "$@"
