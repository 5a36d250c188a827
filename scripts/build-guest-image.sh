#!/usr/bin/env bash
# build-guest-image.sh OUTDIR
#
# Builds a tiny, bootable test guest for nodeagent's libvirt/QEMU tests out of
# Debian packages:
#   OUTDIR/vmlinuz     kernel of the versioned package behind linux-image-cloud-amd64
#   OUTDIR/initrd.img  gzip'd newc cpio: static busybox + a few virtio/ACPI modules + /init
#   OUTDIR/image.env   KERNEL=..., INITRD=..., KVER=... (absolute paths), sourceable by sh
#
# Safety rules / behaviour:
#   * Packages are fetched with `apt-get download` into OUTDIR/debs (reused when already
#     there) and unpacked with `dpkg-deb -x` into OUTDIR/work. Nothing is ever installed;
#     nothing outside OUTDIR is written (apt-get itself may update its own cache).
#   * Safe to run repeatedly: the work tree is rebuilt, outputs are replaced atomically.
#   * Needs: apt-get, apt-cache, dpkg-deb, cpio, gzip, modinfo (kmod); xz/zstd only if the
#     kernel ships compressed modules (they are decompressed here, busybox insmod is
#     not relied upon to read .ko.xz/.ko.zst).
#
# Environment:
#   EXTRA_DIR=/path     contents are copied into the initramfs root (after everything else,
#                       so they may add files such as test scripts for nodeagent.run=).
#   EXTRA_MODULES="a b" further kernel modules to add (dependencies are resolved, built-in
#                       ones are skipped) and load at boot.
#   KERNEL_META=pkg     metapackage to resolve (default linux-image-cloud-amd64).
#
# Guest behaviour (kernel cmdline must contain console=ttyS0 to see the markers):
#   NODEAGENT-DISK-OK vda       after reading a few MiB from /dev/vda (if it exists)
#   NODEAGENT-ACPI-IGNORED      when the cmdline has nodeagent.acpi=ignore
#   NODEAGENT-GUEST-READY       once modules are loaded, the disk was read and acpid runs
#                               (so a `virsh shutdown` issued after this line is handled)
#   NODEAGENT-GUEST-POWEROFF    on the ACPI power button, just before `poweroff -f`
#   nodeagent.run=PATH          hook: after READY, if PATH exists, it is run with sh in the
#                               background; prints NODEAGENT-RUN-START / NODEAGENT-RUN-EXIT rc.
set -euo pipefail

log() { printf '[build-guest-image] %s\n' "$*" >&2; }
die() { printf '[build-guest-image] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 OUTDIR"
mkdir -p "$1" || die "cannot create $1"
OUTDIR=$(cd "$1" && pwd)
DEBS="$OUTDIR/debs"
WORK="$OUTDIR/work"
KERNEL_META=${KERNEL_META:-linux-image-cloud-amd64}

# Default module set, dependencies are added automatically (see resolve_module).
MODULES=(virtio_ring virtio virtio_pci virtio_blk virtio_net virtio_balloon button evdev)
# shellcheck disable=SC2206
MODULES+=(${EXTRA_MODULES:-})

for tool in apt-get apt-cache dpkg-deb cpio gzip modinfo find; do
    command -v "$tool" >/dev/null || die "required tool '$tool' not found"
done

# ---------------------------------------------------------------------------------------
# 1. Resolve and download the packages.
# ---------------------------------------------------------------------------------------
mkdir -p "$DEBS"

# newest_deb PKG: path of an already downloaded .deb of PKG (highest version), or nothing.
newest_deb() {
    local f best=""
    for f in "$DEBS/$1"_*.deb; do
        [[ -e $f ]] || continue
        if [[ -z $best ]]; then best=$f; continue; fi
        local v1 v2
        v1=$(dpkg-deb -f "$f" Version); v2=$(dpkg-deb -f "$best" Version)
        if dpkg --compare-versions "$v1" gt "$v2"; then best=$f; fi
    done
    [[ -n $best ]] && printf '%s\n' "$best"
    return 0
}

log "resolving $KERNEL_META"
KPKG=$(apt-cache depends "$KERNEL_META" 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }' || true)
if [[ -z $KPKG ]]; then
    # Offline / no apt lists: fall back to a kernel deb downloaded earlier.
    f=$(find "$DEBS" -maxdepth 1 -name 'linux-image-[0-9]*_*.deb' | sort -V | tail -n1)
    [[ -n $f ]] || die "cannot resolve $KERNEL_META with apt-cache (run 'apt-get update'?) and no kernel .deb in $DEBS"
    KPKG=$(dpkg-deb -f "$f" Package)
    log "apt-cache could not resolve $KERNEL_META; reusing downloaded $KPKG"
fi
log "kernel package: $KPKG"

fetch_deb() { # PKG -> prints path of the .deb
    local pkg=$1 deb
    deb=$(newest_deb "$pkg")
    if [[ -n $deb ]]; then
        log "reusing $(basename "$deb")"
    else
        log "downloading $pkg into $DEBS"
        # apt-get download writes into the current directory. The "_apt" sandbox warning
        # (it cannot write to a root-owned directory) is harmless.
        (cd "$DEBS" && apt-get download -q "$pkg" >&2) \
            || die "apt-get download $pkg failed (stale apt lists? try 'apt-get update')"
        deb=$(newest_deb "$pkg")
        [[ -n $deb ]] || die "apt-get download $pkg produced no .deb in $DEBS"
    fi
    printf '%s\n' "$deb"
}

KDEB=$(fetch_deb "$KPKG")
BDEB=$(fetch_deb busybox-static)

# ---------------------------------------------------------------------------------------
# 2. Extract (never install).
# ---------------------------------------------------------------------------------------
extract() { # DEB DEST : re-extracts unless DEST/.stamp names the same .deb
    local deb=$1 dest=$2
    if [[ -f $dest/.stamp && $(cat "$dest/.stamp") == "$(basename "$deb")" ]]; then
        log "already extracted: $(basename "$deb")"
        return
    fi
    log "extracting $(basename "$deb") -> $dest"
    rm -rf "$dest"
    mkdir -p "$dest"
    dpkg-deb -x "$deb" "$dest" || die "dpkg-deb -x $deb failed"
    basename "$deb" >"$dest/.stamp"
}
extract "$KDEB" "$WORK/kernel"
extract "$BDEB" "$WORK/busybox"

KVER=${KPKG#linux-image-}
MODDIR=""
for d in "$WORK/kernel/lib/modules/$KVER" "$WORK/kernel/usr/lib/modules/$KVER"; do
    [[ -d $d ]] && MODDIR=$d && break
done
[[ -n $MODDIR ]] || die "no modules directory for $KVER in $KDEB"
VMLINUZ_SRC="$WORK/kernel/boot/vmlinuz-$KVER"
[[ -f $VMLINUZ_SRC ]] || die "kernel image $VMLINUZ_SRC missing in $KDEB"
KCONFIG="$WORK/kernel/boot/config-$KVER"
BUSYBOX_SRC=""
for f in "$WORK/busybox/bin/busybox" "$WORK/busybox/usr/bin/busybox"; do
    [[ -x $f ]] && BUSYBOX_SRC=$f && break
done
[[ -n $BUSYBOX_SRC ]] || die "busybox binary not found in $BDEB"
log "kernel version: $KVER"

# ---------------------------------------------------------------------------------------
# 3. Resolve modules: skip built-ins, add dependencies, order dependencies first.
# ---------------------------------------------------------------------------------------
declare -A MODPATH=()
while IFS= read -r -d '' f; do
    b=$(basename "$f"); b=${b%%.ko*}
    MODPATH[$b]=$f
    MODPATH[${b//-/_}]=$f
done < <(find "$MODDIR" -name '*.ko*' -print0)

is_builtin() { # NAME
    [[ -f $MODDIR/modules.builtin ]] || return 1
    grep -Eq "/(${1}|${1//_/-})\.ko\$" "$MODDIR/modules.builtin"
}

ORDERED=()
declare -A SEEN=()
resolve_module() { # NAME : depth-first, dependencies before the module
    local m=${1//-/_} dep deps
    [[ -n ${SEEN[$m]:-} ]] && return 0
    SEEN[$m]=1
    if [[ -z ${MODPATH[$m]:-} ]]; then
        if is_builtin "$m"; then
            log "module $m: built into the kernel"
            return 0
        fi
        die "module $m: neither a module nor built-in in $KVER"
    fi
    deps=$(modinfo -F depends "${MODPATH[$m]}" 2>/dev/null || true)
    for dep in ${deps//,/ }; do resolve_module "$dep"; done
    ORDERED+=("$m")
}
for m in "${MODULES[@]}"; do resolve_module "$m"; done
log "modules (load order): ${ORDERED[*]}"
if [[ -f $KCONFIG ]]; then
    log "kernel config: $(grep -E '^CONFIG_MODULE_COMPRESS_' "$KCONFIG" | tr '\n' ' ')"
fi

# ---------------------------------------------------------------------------------------
# 4. Assemble the initramfs tree.
# ---------------------------------------------------------------------------------------
ROOT="$WORK/initramfs"
log "assembling initramfs tree in $ROOT"
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,mnt,root,var/log,etc/acpi/PWRF,etc/acpi/PWRB,lib/modules}
chmod 1777 "$ROOT/tmp"
install -m 0755 "$BUSYBOX_SRC" "$ROOT/bin/busybox"

# One symlink per applet (busybox --list-full gives e.g. "sbin/acpid", "usr/bin/awk").
"$BUSYBOX_SRC" --list-full | while IFS= read -r applet; do
    [[ -n $applet && $applet != bin/busybox ]] || continue
    mkdir -p "$ROOT/$(dirname "$applet")"
    ln -sf /bin/busybox "$ROOT/$applet"
done
[[ -e $ROOT/bin/sh ]] || ln -sf /bin/busybox "$ROOT/bin/sh"

# Console node, in case the kernel's built-in initramfs does not provide one (needs root;
# /init also re-opens /dev/console after mounting devtmpfs).
if [[ $(id -u) -eq 0 ]]; then
    mknod -m 600 "$ROOT/dev/console" c 5 1 || die "mknod /dev/console failed"
    mknod -m 666 "$ROOT/dev/null" c 1 3 || die "mknod /dev/null failed"
else
    log "not root: no /dev/console node in the cpio (the kernel's default one is used)"
fi

# Modules, decompressed if needed, plus the load order for /init.
: >"$ROOT/lib/modules/load-order"
for m in "${ORDERED[@]}"; do
    src=${MODPATH[$m]}
    dst="$ROOT/lib/modules/$m.ko"
    case $src in
        *.ko)     cp "$src" "$dst" ;;
        *.ko.xz)  command -v xz >/dev/null || die "xz needed to decompress $src"
                  xz -dc "$src" >"$dst" ;;
        *.ko.zst) command -v zstd >/dev/null || die "zstd needed to decompress $src"
                  zstd -qdc "$src" >"$dst" ;;
        *.ko.gz)  gzip -dc "$src" >"$dst" ;;
        *)        die "unknown module format: $src" ;;
    esac
    echo "$m" >>"$ROOT/lib/modules/load-order"
done

# ACPI power button handler. busybox acpid maps KEY_POWER from /dev/input/event* to the
# action "PWRF/00000080" (or PWRB/...) and runs CONFDIR/<action> (a file is executed
# directly, a directory is run with run-parts). Scripts need a #! line.
cat >"$ROOT/etc/acpi/poweroff.sh" <<'EOF'
#!/bin/sh
# Run by busybox acpid on the ACPI power button (virsh shutdown).
echo "NODEAGENT-GUEST-POWEROFF" >/dev/console
sync
poweroff -f
EOF
chmod 0755 "$ROOT/etc/acpi/poweroff.sh"
cp "$ROOT/etc/acpi/poweroff.sh" "$ROOT/etc/acpi/PWRF/00000080"
cp "$ROOT/etc/acpi/poweroff.sh" "$ROOT/etc/acpi/PWRB/00000080"

cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# /init of the nodeagent test guest (busybox sh, PID 1). Never exits.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts 2>/dev/null
exec </dev/console >/dev/console 2>&1
# Start on a fresh line: the firmware leaves terminal escapes (ESC c ...) without a newline,
# which would otherwise prefix our first marker when the kernel is booted with `quiet`.
echo
CMDLINE=$(cat /proc/cmdline)
has_arg() { case " $CMDLINE " in *" $1 "*) return 0 ;; esac; return 1; }
arg_value() { # prints the value of KEY=VALUE from the kernel cmdline
    for a in $CMDLINE; do case "$a" in "$1="*) echo "${a#*=}"; return 0 ;; esac; done
    return 1
}

# Kernel modules, in dependency order (computed at build time).
while read -r m; do
    insmod "/lib/modules/$m.ko" || echo "nodeagent-init: insmod $m failed"
done </lib/modules/load-order

# Give devtmpfs a moment to create nodes for devices probed by the modules.
wait_for() { # PATTERN TENTHS
    i=0
    while [ "$i" -lt "$2" ]; do
        for f in $1; do [ -e "$f" ] && return 0; done
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
# A virtio block device has virtio device id 0x0002.
if grep -qs 0x0002 /sys/bus/virtio/devices/*/device; then wait_for /dev/vda 50; fi
wait_for '/dev/input/event*' 20

if [ -b /dev/vda ]; then
    # Read a few MiB so that the host sees non-zero block statistics.
    if dd if=/dev/vda of=/dev/null bs=1M count=4 2>/dev/null; then
        echo "NODEAGENT-DISK-OK vda"
    else
        echo "NODEAGENT-DISK-FAILED vda"
    fi
fi

if has_arg nodeagent.acpi=ignore; then
    echo "NODEAGENT-ACPI-IGNORED"
else
    # acpid opens /dev/input/event* once at start-up: button and evdev are loaded above.
    acpid -c /etc/acpi -l /var/log/acpid.log -p /run/acpid.pid \
        || echo "nodeagent-init: acpid failed to start"
fi

echo "NODEAGENT-GUEST-READY"

# Hook for later tests: nodeagent.run=PATH runs PATH (with sh, in the background) if it
# exists, e.g. a script put into the initramfs with EXTRA_DIR. Its exit code is printed.
RUN=$(arg_value nodeagent.run) || RUN=""
if [ -n "$RUN" ]; then
    if [ -f "$RUN" ]; then
        ( echo "NODEAGENT-RUN-START $RUN"; sh "$RUN"; echo "NODEAGENT-RUN-EXIT $?" ) &
    else
        echo "NODEAGENT-RUN-MISSING $RUN"
    fi
fi

# PID 1 must never exit (the kernel would panic); sleeping in the foreground also
# lets the shell reap orphaned children.
while :; do sleep 3600; done
EOF
chmod 0755 "$ROOT/init"

if [[ -n ${EXTRA_DIR:-} ]]; then
    [[ -d $EXTRA_DIR ]] || die "EXTRA_DIR=$EXTRA_DIR is not a directory"
    log "copying EXTRA_DIR $EXTRA_DIR into the initramfs root"
    cp -a "$EXTRA_DIR"/. "$ROOT"/
fi

# ---------------------------------------------------------------------------------------
# 5. Write the outputs atomically.
# ---------------------------------------------------------------------------------------
log "writing $OUTDIR/initrd.img"
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
    | cpio --null --create --format=newc --owner=0:0 --quiet) \
    | gzip -9 >"$OUTDIR/initrd.img.tmp" || die "creating the initramfs cpio failed"
mv -f "$OUTDIR/initrd.img.tmp" "$OUTDIR/initrd.img"

log "writing $OUTDIR/vmlinuz"
cp "$VMLINUZ_SRC" "$OUTDIR/vmlinuz.tmp"
mv -f "$OUTDIR/vmlinuz.tmp" "$OUTDIR/vmlinuz"

cat >"$OUTDIR/image.env.tmp" <<EOF
KERNEL=$OUTDIR/vmlinuz
INITRD=$OUTDIR/initrd.img
KVER=$KVER
EOF
mv -f "$OUTDIR/image.env.tmp" "$OUTDIR/image.env"

log "done: $(du -h "$OUTDIR/vmlinuz" | cut -f1) kernel, $(du -h "$OUTDIR/initrd.img" | cut -f1) initrd"
cat "$OUTDIR/image.env"
