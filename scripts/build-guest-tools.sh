#!/usr/bin/env bash
# build-guest-tools.sh OUTDIR
#
# Builds the in-guest test image for real cgroup v2 limits: the `nodeagent-guestcheck`
# executable (it depends only on the CGroups and Probes libraries) in release mode with the
# Swift standard library linked statically, the shared libraries `ldd` names copied next to it
# at their own paths, and scripts/guest/*.sh; then the tiny guest image of
# scripts/build-guest-image.sh with those files added (EXTRA_DIR) into OUTDIR/image.
#
#   OUTDIR/rootfs/   files added to the initramfs
#   OUTDIR/image/    image.env, vmlinuz, initrd.img (the kernel .debs are reused from
#                    DEBS_FROM/debs if given, e.g. the plain image's directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 64; }
out=$(realpath -m "$1")
log() { printf '[build-guest-tools] %s\n' "$*" >&2; }

log "building nodeagent-guestcheck (release, static Swift stdlib)"
swift build -c release --static-swift-stdlib --product nodeagent-guestcheck --scratch-path .build-guest >&2
binary=$(swift build -c release --static-swift-stdlib --product nodeagent-guestcheck --scratch-path .build-guest --show-bin-path)/nodeagent-guestcheck

rm -rf "$out/rootfs"
mkdir -p "$out/rootfs/usr/local/bin" "$out/image"
cp "$binary" "$out/rootfs/usr/local/bin/"
# Every shared library the binary needs, at the path the dynamic loader will look for it.
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
    mkdir -p "$out/rootfs$(dirname "$lib")"
    cp -L "$lib" "$out/rootfs$lib"
    log "  + $lib"
done
cp scripts/guest/*.sh "$out/rootfs/"
chmod +x "$out/rootfs/"*.sh

if [[ -n ${DEBS_FROM:-} && -d $DEBS_FROM/debs && ! -d $out/image/debs ]]; then
    cp -r "$DEBS_FROM/debs" "$out/image/debs"
fi
EXTRA_DIR=$out/rootfs scripts/build-guest-image.sh "$out/image"
log "image with guest tools in $out/image"
