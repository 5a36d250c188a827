#!/bin/sh
# Collects real cgroup v2 interface file text for the CGroups test fixtures.
OUT=/tmp/dump
mkdir -p $OUT
CG=/sys/fs/cgroup
mount -t cgroup2 none $CG || echo DUMP-MOUNT-FAILED
echo 8 > /proc/sys/vm/nr_hugepages
mkswap /dev/vdc && swapon /dev/vdc
cat $CG/cgroup.controllers
for c in $(cat $CG/cgroup.controllers); do echo "+$c" > $CG/cgroup.subtree_control || echo "DUMP-ENABLE-FAILED $c"; done
mkdir $CG/work $CG/work/job $CG/oom $CG/forks $CG/part
for c in $(cat $CG/work/cgroup.controllers); do echo "+$c" > $CG/work/cgroup.subtree_control; done
VDA=$(cat /sys/block/vda/dev)
# limits on work/job
echo "20000 100000" > $CG/work/job/cpu.max
echo 5000 > $CG/work/job/cpu.max.burst
echo 250 > $CG/work/job/cpu.weight
echo 200M > $CG/work/job/memory.max
echo 150M > $CG/work/job/memory.high
echo 8M > $CG/work/job/memory.low
echo 4M > $CG/work/job/memory.min
echo 32M > $CG/work/job/memory.swap.max
echo 1 > $CG/work/job/memory.oom.group
echo 100 > $CG/work/job/pids.max
echo "$VDA rbps=4194304 wiops=1000" > $CG/work/job/io.max
echo "$VDA enable=1" > $CG/io.cost.qos || echo "iocost refused"
echo "default 200" > $CG/work/job/io.weight
echo "$VDA 300" > $CG/work/job/io.weight
echo 4194304 > $CG/work/job/hugetlb.2MB.max
echo 0 > $CG/work/job/cpuset.cpus
echo 0 > $CG/work/job/cpuset.mems
# load in work/job
sh -c "echo \$\$ > $CG/work/job/cgroup.procs; exec sh /load.sh" &
LOADPID=$!
# OOM group
echo 24M > $CG/oom/memory.max
echo 0 > $CG/oom/memory.swap.max
( sh -c "echo \$\$ > $CG/oom/cgroup.procs; dd if=/dev/zero of=/dev/null bs=64M count=1" ) ; echo "oom dd rc=$?"
# pids limit
echo 3 > $CG/forks/pids.max
( sh -c "echo \$\$ > $CG/forks/cgroup.procs; sleep 30 & sleep 30 & sleep 30 & sleep 30 & wait" ) ; echo "forks rc=$?"
# cpuset partition
echo 1 > $CG/part/cpuset.cpus
echo root > $CG/part/cpuset.cpus.partition || echo "partition refused"
mkdir $CG/p2 && echo 1 > $CG/p2/cpuset.cpus && echo 0 > $CG/p2/cpuset.mems && echo root > $CG/p2/cpuset.cpus.partition || echo "p2 partition refused"
mkdir $CG/thr $CG/thr/t1 $CG/thr/t2 $CG/empty && echo threaded > $CG/thr/t1/cgroup.type || echo "threaded refused"
wait $LOADPID
sleep 2
echo 1 > $CG/work/job/cgroup.freeze
sleep 1
# dump every readable interface file
for d in "" work work/job oom forks part p2 thr thr/t1 thr/t2 empty; do
  n=${d:-root}; dst=$OUT/$(echo $n | tr / _)
  mkdir -p $dst
  for f in $CG/$d/*; do
    [ -f "$f" ] || continue
    n=$(basename $f)
    case $n in cgroup.kill|cgroup.procs|cgroup.threads) ;; esac
    cat "$f" > "$dst/$n" 2>/dev/null || { rm -f "$dst/$n"; echo "unreadable $d/$n"; }
  done
done
cat $CG/work/job/cgroup.procs > $OUT/work_job/cgroup.procs
uname -r > $OUT/uname
tar -cf /dev/vdb -C $OUT . && sync
echo DUMP-DONE
echo 1 > $CG/work/job/cgroup.kill
poweroff -f
