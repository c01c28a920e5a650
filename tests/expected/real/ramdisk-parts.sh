# ramdisk.ko partitioned: an MS-DOS partition table written into sector 0 with dd (two Linux
# partitions: sectors 64..1023 and 1024..2047), then `blockdev --rereadpt` (BLKRRPART): the scan
# reads sector 0, msdos.c finds the table and the partitions appear in /proc/partitions, /dev,
# /sys/block/pkram0 and /sys/class/block; I/O on a partition's node is shifted by its start.
scenario_start
run insmod ramdisk.ko
runsh 'printf "\000\000\000\000\203\000\000\000\100\000\000\000\300\003\000\000\000\000\000\000\203\000\000\000\000\004\000\000\000\004\000\000" | dd of=/dev/pkram0 bs=1 seek=446 conv=notrunc 2>/dev/null'
runsh 'printf "\125\252" | dd of=/dev/pkram0 bs=1 seek=510 conv=notrunc 2>/dev/null'
run cat /proc/partitions
run blockdev --rereadpt /dev/pkram0
run cat /proc/partitions
runsh 'ls /dev | grep pkram'
run ls /sys/block/pkram0
run ls /sys/block/pkram0/pkram0p1
run cat /sys/block/pkram0/pkram0p1/partition /sys/block/pkram0/pkram0p1/start /sys/block/pkram0/pkram0p1/size
run cat /sys/block/pkram0/pkram0p2/dev /sys/block/pkram0/pkram0p2/ro /sys/block/pkram0/pkram0p2/inflight
run cat /sys/block/pkram0/pkram0p2/uevent
run readlink /sys/class/block/pkram0p2
run ls /sys/class/block
run blockdev --getsize64 /dev/pkram0p1
runsh 'yes part2 | dd of=/dev/pkram0p2 bs=4096 count=1 iflag=fullblock oflag=direct conv=notrunc status=noxfer'
runsh 'dd if=/dev/pkram0 bs=4096 skip=128 count=1 iflag=direct 2>/dev/null | head -c 12'
runsh 'dd if=/dev/pkram0p1 bs=4096 skip=119 count=2 iflag=direct 2>/dev/null | wc -c'
run blockdev --rereadpt /dev/pkram0
dmesg_since
run rmmod ramdisk
run cat /proc/partitions
run ls /sys/class/block
