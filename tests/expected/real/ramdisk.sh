# ramdisk.ko: a blk-mq RAM disk, /dev/pkram0 (a dynamic block major, 16 minors, 1 MiB). add_disk()
# scans it for partitions through the module's queue_rq, which logs every request; the data is
# written and read back with O_DIRECT (dd oflag=direct, iflag=direct), so that each dd block is
# one request as the kernel builds it, not what the page cache's readahead and writeback make of it;
# a small read without O_DIRECT at the end of the disk goes through the page cache (one page,
# readahead stops at the end). dd's counts are never piped: busybox dd closes its output before
# it prints them, so the reader of the pipe and dd race to the terminal.
# differs: blockdev --getss /dev/pkram0 (BLKSSZGET is an _IO command: a FUSE file's ioctl gets no buffer for its answer)
# differs: blockdev --getro /dev/pkram0 (BLKROGET, the same)
scenario_start
run insmod ramdisk.ko
run cat /proc/partitions
runsh 'sed -n "/^Block devices:/,\$p" /proc/devices'
run ls /dev/pkram0
run ls /sys/block
run ls /sys/class/block
run readlink /sys/block/pkram0
run ls /sys/block/pkram0
run cat /sys/block/pkram0/dev /sys/block/pkram0/size /sys/block/pkram0/ro /sys/block/pkram0/removable
run cat /sys/block/pkram0/range /sys/block/pkram0/ext_range /sys/block/pkram0/capability /sys/block/pkram0/hidden
run cat /sys/block/pkram0/alignment_offset /sys/block/pkram0/discard_alignment /sys/block/pkram0/inflight
run cat /sys/block/pkram0/uevent
run cat /sys/block/pkram0/queue/logical_block_size /sys/block/pkram0/queue/physical_block_size /sys/block/pkram0/queue/hw_sector_size
run cat /sys/block/pkram0/queue/max_sectors_kb /sys/block/pkram0/queue/max_hw_sectors_kb /sys/block/pkram0/queue/rotational
run cat /sys/block/pkram0/queue/nr_requests /sys/block/pkram0/queue/scheduler /sys/block/pkram0/queue/read_ahead_kb
run blockdev --getsize64 /dev/pkram0
run blockdev --getbsz /dev/pkram0
run blockdev --getss /dev/pkram0
run blockdev --getro /dev/pkram0
runsh 'yes pkram | head -c 8192 | dd of=/dev/pkram0 bs=4096 seek=2 iflag=fullblock oflag=direct conv=notrunc status=noxfer'
runsh 'dd if=/dev/pkram0 bs=4096 count=4 iflag=direct 2>/dev/null | md5sum'
runsh 'dd if=/dev/pkram0 bs=4096 skip=2 count=1 iflag=direct 2>/dev/null | hexdump -C | head -n 3'
run dd if=/dev/pkram0 of=/dev/null bs=512 skip=2047 count=4 status=noxfer
runsh 'dd if=/dev/pkram0 bs=512 skip=2047 count=4 2>/dev/null | wc -c'
run cat /sys/block/pkram0/inflight
dmesg_since
run rmmod ramdisk
run cat /proc/partitions
run ls /sys/block
runsh 'ls /dev | grep pkram'
runsh 'sed -n "/^Block devices:/,\$p" /proc/devices'
runsh 'dmesg -r | tail -n 1'
