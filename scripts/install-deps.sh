#!/usr/bin/env bash
# install-deps.sh [build|test|bench]
#
# Installs, idempotently with apt, the system packages nodeagent needs:
#   build  what `swift build` links against (libvirt, libsystemd, SQLite for GRDB, liburing for the
#          disk probe) and pkg-config;
#   test   (default) build + what the test suite runs: the libvirt daemon and QEMU for the
#          private-libvirtd integration tests, libvirt's clients and xmllint (virt-xml-validate), and the
#          tools the guest image builder uses (cpio, kmod, apt-get download, dpkg-deb), openssl
#          (throw-away certificates for the mutual-TLS tests), and the Python example client's
#          pip packages (examples/python/requirements.txt: grpcio, grpcio-tools), and what the
#          burn-in probes' tests and the health probe use: iproute2 and iptables (network namespaces,
#          tc, UDP drops), smartmontools (smartctl -j);
#   bench  test + the reference tools of the benchmarks (Benchmarks/*/run.sh, docs/PERFORMANCE.md):
#          fio, iperf3, sysbench, stress-ng, and gcc with OpenMP for the STREAM-style triad.
# Packages already installed are not touched; `apt-get update` runs only when something is
# missing. The Swift toolchain itself comes with the machine (/opt/swift).
#
# libvirt-daemon-system is needed even though the tests never use the host's libvirt: its
# postinst creates the libvirt-qemu user, without which libvirtd's QEMU driver refuses to
# initialise. It starts nothing here (no systemd), and the private libvirtd the tests run
# never sees the host's /etc/libvirt (so the host's `default` network is never started).
set -euo pipefail

mode=${1:-test}
build_packages=(pkg-config libvirt-dev libsystemd-dev libxml2-dev libsqlite3-dev liburing-dev)
test_packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
    libxml2-utils kmod cpio gzip util-linux procps openssl iproute2 iptables smartmontools)
bench_packages=(fio iperf3 sysbench stress-ng gcc libgomp1 time python3)

case $mode in
    build) wanted=("${build_packages[@]}") ;;
    test) wanted=("${build_packages[@]}" "${test_packages[@]}") ;;
    bench) wanted=("${build_packages[@]}" "${test_packages[@]}" "${bench_packages[@]}") ;;
    *) echo "usage: $0 [build|test|bench]" >&2; exit 64 ;;
esac

missing=()
for package in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
    echo "[install-deps] all ${#wanted[@]} packages present"
else
    echo "[install-deps] installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    echo "[install-deps] done"
fi

if [[ $mode == test || $mode == bench ]]; then
    requirements="$(dirname "$0")/../examples/python/requirements.txt"
    # pip is quiet and quick when every pinned version is already installed.
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$requirements"
fi
