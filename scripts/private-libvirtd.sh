#!/usr/bin/env bash
# private-libvirtd.sh COMMAND DIR
#
# Runs a PRIVATE monolithic libvirtd (+ virtlogd) of Debian 12 whose whole state lives
# under DIR, for nodeagent's tests against a real QEMU hypervisor.
#
# Commands:
#   start DIR         create DIR/{etc,run,lib,log,cache}, write configs, start virtlogd and
#                     libvirtd (each unless already running), wait until libvirtd answers;
#                     prints the URI as the last stdout line.
#   stop DIR          kill, by PID only, the QEMU processes of DIR/run/qemu/*.pid (TERM, then
#                     KILL), libvirtd and virtlogd. Idempotent.
#   stop-daemon DIR   stop only libvirtd (TERM, wait); virtlogd and guests keep running.
#   start-daemon DIR  start only libvirtd again and wait until it answers; prints the URI.
#   uri DIR           print the URI: qemu+unix:///system?socket=DIR/run/libvirt-sock
#
# Safety rules (why it looks like this):
#   * Every daemon runs in its own mount namespace (`unshare -m --propagation private`) in
#     which DIR/etc, DIR/run, DIR/lib, DIR/log, DIR/cache are bind-mounted over
#     /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt.
#     The host's copies are never read or written. In particular the private /etc/libvirt
#     is EMPTY apart from our configs, so no network (e.g. the host's autostarted `default`,
#     which would add iptables rules and set ip_forward), pool or domain is ever autostarted.
#   * /run is covered by a private, empty tmpfs inside each namespace: /run/libvirt need not
#     exist on the host (it is never created there) and the daemons cannot reach the host's
#     D-Bus / systemd-machined (machined would create cgroup scopes).
#   * qemu.conf sets `cgroup_controllers = [ ]`: libvirt must create NO cgroups (the host's
#     cgroup v1 hierarchies and the `process_api` cgroup must never be written).
#     security_driver none, user/group root, no ownership changes, no QEMU namespaces.
#   * Processes are only ever signalled by PID, and only after checking that the PID is the
#     expected program AND that it sees DIR/run as its /run/libvirt (so a recycled PID or
#     another private libvirtd is never hit). Never pkill/killall: other libvirtds may run.
#   * Several instances with different DIRs can run at the same time.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
START_DEADLINE=${START_DEADLINE:-60}   # seconds to wait for libvirtd to answer
TERM_TIMEOUT=${TERM_TIMEOUT:-20}       # seconds between SIGTERM and SIGKILL

log() { printf '[private-libvirtd] %s\n' "$*" >&2; }
die() { printf '[private-libvirtd] ERROR: %s\n' "$*" >&2; exit 1; }

usage() { die "usage: $0 {start|stop|stop-daemon|start-daemon|uri} DIR"; }

[[ $# -ge 2 ]] || usage
CMD=$1
DIR=$(realpath -m -- "$2") || die "bad DIR $2"
shift 2

URI="qemu+unix:///system?socket=$DIR/run/libvirt-sock"

# Host path -> private directory. Order matters only for readability.
BIND_TARGETS=(/etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt)
bind_source() {
    case $1 in
        /etc/libvirt) echo "$DIR/etc" ;;
        /var/lib/libvirt) echo "$DIR/lib" ;;
        /var/log/libvirt) echo "$DIR/log" ;;
        /var/cache/libvirt) echo "$DIR/cache" ;;
        /run/libvirt) echo "$DIR/run" ;;
    esac
}

# ---------------------------------------------------------------------------------------
# Internal: executed by `unshare -m --propagation private` as "$SELF __ns-exec DIR CMD...".
# Sets up the private view of the file system, then execs CMD.
# ---------------------------------------------------------------------------------------
ns_exec() {
    # Refuse to mount anything in the host's mount namespace.
    [[ $(readlink /proc/self/ns/mnt) != "$(readlink /proc/1/ns/mnt)" ]] \
        || die "__ns-exec must run in a private mount namespace"
    # `mount -n`: util-linux would otherwise create /run/mount/utab* on the HOST (the
    # first mounts happen before /run is covered).
    mount -n --make-rprivate / || die "mount --make-rprivate / failed"
    mount -n -t tmpfs -o mode=0755,size=16m nodeagent-private-run /run || die "tmpfs on /run failed"
    mkdir -p /run/lock /run/libvirt
    chmod 1777 /run/lock
    mount -n --bind "$DIR/run" /run/libvirt || die "bind $DIR/run -> /run/libvirt failed"
    local t
    for t in "${BIND_TARGETS[@]}"; do
        # Without libvirt-daemon-system (never installed by our scripts) some of these do not
        # exist; an empty directory is created as the mount point, nothing is put in it.
        [[ -d $t ]] || mkdir -p "$t" || die "cannot create mount point $t"
        mount -n --bind "$(bind_source "$t")" "$t" || die "bind $(bind_source "$t") -> $t failed"
    done
    # Nothing from the caller's environment may redirect the daemons elsewhere.
    unset NOTIFY_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES DBUS_SYSTEM_BUS_ADDRESS \
          DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR LIBVIRT_DEFAULT_URI
    export NODEAGENT_PRIVATE_LIBVIRTD_DIR=$DIR
    cd /
    exec "$@"
}

if [[ $CMD == __ns-exec ]]; then
    ns_exec "$@"
fi

# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

# pid_is_ours PID EXE-PREFIX : alive, running EXE-PREFIX*, and its /run/libvirt is DIR/run.
pid_is_ours() {
    local pid=$1 want=$2 exe
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ $(basename "$exe") == "$want"* ]] || return 1
    [[ -d $DIR/run && "$DIR/run" -ef "/proc/$pid/root/run/libvirt" ]] || return 1
}

# daemon_pid NAME : prints the PID from DIR/NAME.pid if that process is ours.
daemon_pid() {
    local pid
    pid=$(cat "$DIR/$1.pid" 2>/dev/null || true)
    pid=${pid//[[:space:]]/}
    pid_is_ours "$pid" "$1" && echo "$pid"
    return 0
}

# gone PID : the process no longer exists or is a zombie (it has exited; its parent has
# not reaped it yet).
gone() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [[ ${stat%% *} == Z ]]
}

# terminate PID WHAT TIMEOUT : SIGTERM, wait up to TIMEOUT s, then SIGKILL and wait.
terminate() {
    local pid=$1 what=$2 timeout=$3 i
    log "stopping $what (pid $pid): SIGTERM"
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < timeout * 10; i++)); do
        gone "$pid" && { log "$what (pid $pid) exited"; return 0; }
        sleep 0.1
    done
    log "$what (pid $pid) still alive after ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        gone "$pid" && return 0
        sleep 0.1
    done
    die "$what (pid $pid) did not exit after SIGKILL"
}

write_configs() {
    log "preparing $DIR"
    mkdir -p "$DIR"/{etc,run,lib,log,cache}
    mkdir -p "$DIR/etc/qemu" "$DIR/run/qemu" "$DIR/lib/qemu" "$DIR/lib/images" \
             "$DIR/log/qemu" "$DIR/cache/qemu"
    chmod 0755 "$DIR/run"

    cat >"$DIR/etc/qemu.conf" <<'EOF'
# Written by private-libvirtd.sh; private test daemon, see the script header.
# MANDATORY: no cgroups at all (host has cgroup v1 hierarchies that must not be written).
cgroup_controllers = [ ]
security_driver = "none"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
# No private /dev mount namespace per QEMU process.
namespaces = [ ]
# Guest consoles/logs go through virtlogd (its socket is DIR/run/virtlogd-sock).
stdio_handler = "logd"
EOF

    cat >"$DIR/etc/libvirtd.conf" <<EOF
# Written by private-libvirtd.sh; private test daemon, see the script header.
unix_sock_dir = "$DIR/run"
unix_sock_group = "root"
unix_sock_ro_perms = "0770"
unix_sock_rw_perms = "0770"
unix_sock_admin_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:file:$DIR/log/libvirtd.log"
EOF

    cat >"$DIR/etc/virtlogd.conf" <<EOF
# Written by private-libvirtd.sh; private test daemon, see the script header.
log_outputs = "3:file:$DIR/log/virtlogd.log"
EOF
}

# ns_start NAME ARGS... : start a daemon in a fresh private mount namespace.
ns_start() {
    local name=$1; shift
    rm -f "$DIR/$name.pid"
    log "starting $name in a private mount namespace"
    unshare -m --propagation private "$SELF" __ns-exec "$DIR" "$@" \
        </dev/null >>"$DIR/log/$name.stdout" 2>&1 \
        || die "$name failed to start (see $DIR/log/$name.stdout and $DIR/log/$name.log)"
    local i pid=""
    for ((i = 0; i < 100; i++)); do
        pid=$(daemon_pid "$name")
        [[ -n $pid ]] && break
        sleep 0.1
    done
    [[ -n $pid ]] || die "$name did not write a valid $DIR/$name.pid"
    log "$name running, pid $pid"
}

start_virtlogd() {
    local pid
    pid=$(daemon_pid virtlogd)
    if [[ -n $pid ]]; then log "virtlogd already running, pid $pid"; return; fi
    ns_start virtlogd /usr/sbin/virtlogd -d -f "$DIR/etc/virtlogd.conf" -p "$DIR/virtlogd.pid"
}

start_libvirtd() {
    local pid
    pid=$(daemon_pid libvirtd)
    if [[ -n $pid ]]; then
        log "libvirtd already running, pid $pid"
    else
        ns_start libvirtd /usr/sbin/libvirtd -d -f "$DIR/etc/libvirtd.conf" -p "$DIR/libvirtd.pid"
        pid=$(daemon_pid libvirtd)
    fi
    wait_ready "$pid"
}

wait_ready() {
    local pid=$1 t0=$SECONDS
    log "waiting up to ${START_DEADLINE}s for $URI"
    while ((SECONDS - t0 < START_DEADLINE)); do
        if timeout 30 virsh -q -c "$URI" version >/dev/null 2>&1; then
            log "libvirtd answers after $((SECONDS - t0))s"
            return 0
        fi
        if ! pid_is_ours "$pid" libvirtd; then
            tail -n 20 "$DIR/log/libvirtd.log" >&2 2>/dev/null || true
            die "libvirtd (pid $pid) exited during start-up (see $DIR/log/libvirtd.log)"
        fi
        sleep 0.5
    done
    tail -n 20 "$DIR/log/libvirtd.log" >&2 2>/dev/null || true
    die "libvirtd did not answer within ${START_DEADLINE}s"
}

stop_libvirtd() {
    local pid
    pid=$(daemon_pid libvirtd)
    if [[ -n $pid ]]; then
        terminate "$pid" libvirtd "$TERM_TIMEOUT"
    else
        log "libvirtd not running"
    fi
    rm -f "$DIR/libvirtd.pid"
}

stop_qemus() {
    local f name pid
    for f in "$DIR"/run/qemu/*.pid; do
        [[ -e $f ]] || continue
        name=$(basename "$f" .pid)
        pid=$(tr -d '[:space:]' <"$f" 2>/dev/null || true)
        if pid_is_ours "$pid" qemu-system \
           && tr '\0' '\n' <"/proc/$pid/cmdline" | grep -q "^guest=$name,"; then
            terminate "$pid" "QEMU guest $name" "$TERM_TIMEOUT"
        elif [[ $name != driver ]]; then  # run/qemu/driver.pid is libvirtd's own lock file
            log "QEMU guest $name: pid '${pid}' not running (or not ours)"
        fi
    done
}

# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------
for tool in unshare virsh; do command -v "$tool" >/dev/null || die "$tool not found"; done
[[ -x /usr/sbin/libvirtd && -x /usr/sbin/virtlogd ]] || die "libvirtd/virtlogd not installed"

case $CMD in
    start)
        [[ $(id -u) -eq 0 ]] || die "must run as root"
        write_configs
        start_virtlogd
        start_libvirtd
        echo "$URI"
        ;;
    start-daemon)
        [[ $(id -u) -eq 0 ]] || die "must run as root"
        [[ -f $DIR/etc/qemu.conf ]] || die "$DIR was never started (use: start)"
        [[ -n $(daemon_pid virtlogd) ]] || log "warning: virtlogd is not running"
        start_libvirtd
        echo "$URI"
        ;;
    stop-daemon)
        stop_libvirtd
        ;;
    stop)
        stop_qemus
        stop_libvirtd
        pid=$(daemon_pid virtlogd)
        if [[ -n $pid ]]; then terminate "$pid" virtlogd "$TERM_TIMEOUT"; else log "virtlogd not running"; fi
        rm -f "$DIR/virtlogd.pid"
        log "stopped"
        ;;
    uri)
        echo "$URI"
        ;;
    *)
        usage
        ;;
esac
