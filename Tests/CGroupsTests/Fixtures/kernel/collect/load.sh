mkdir -p /tmp/shm && mount -t tmpfs tmpfs /tmp/shm
dd if=/dev/zero of=/tmp/shm/fill bs=1M count=20 2>/dev/null
dd if=/dev/vda of=/dev/null bs=64k count=128 iflag=direct 2>/dev/null
dd if=/dev/zero of=/dev/vda bs=4k count=256 oflag=direct 2>/dev/null
dd if=/dev/vda of=/dev/null bs=1M count=8 2>/dev/null
i=0; end=$(( $(date +%s) + 3 )); while [ $(date +%s) -lt $end ]; do i=$((i+1)); done
dd if=/dev/zero of=/dev/null bs=160M count=1 2>/dev/null
sleep 1000 &
sleep 1000 &
echo LOAD-DONE
