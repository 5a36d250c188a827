#!/bin/sh
# Runs inside the test guest (nodeagent.run=/cgroup-limits.sh): mounts cgroup2 with every
# controller and lets nodeagent-guestcheck exercise real limits through the CGroups library.
# Results are printed on the serial console as NODEAGENT-CHECK lines, then
# NODEAGENT-CHECK-DONE; the host-side test parses them.
mkdir -p /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup || echo "NODEAGENT-CHECK name=mount result=FAIL detail=cannot-mount-cgroup2"
echo "NODEAGENT-CHECK-CONTROLLERS $(cat /sys/fs/cgroup/cgroup.controllers)"
disk=""
[ -e /sys/block/vda/dev ] && disk="--disk /dev/vda --disk-id $(cat /sys/block/vda/dev)"
# shellcheck disable=SC2086
/usr/local/bin/nodeagent-guestcheck limits --root /sys/fs/cgroup $disk
echo "NODEAGENT-CHECK-DONE rc=$?"
