# ramdisk.ko through the block device's page cache: an 8 KiB disk first, too small for the
# partition scan (ultrix.c reads sector 31: "partition table beyond EOD"), written without
# O_DIRECT (a partial page is read first, the dirty pages are written back at the last close,
# a write at the end gets ENOSPC), read with the kernel's readahead (4 pages from the start,
# clipped at the end); then the 1 MiB disk read whole with dd (each window one bio, split at 255
# sectors) and at a random place. dd, not cat: busybox cat would sendfile(), which the mount
# answers with read()s of another size, so another readahead.
# differs: cat /sys/block/pkram0/stat (the milliseconds the recorded machine's I/O took)
scenario_start
run insmod ramdisk.ko size_kb=8
run cat /proc/partitions
runsh 'echo hello | dd of=/dev/pkram0 bs=512 seek=1 conv=notrunc status=noxfer'
runsh 'dd if=/dev/pkram0 bs=512 skip=1 count=1 2>/dev/null | head -c 6'
run dd if=/dev/pkram0 of=/dev/null bs=1 skip=8191 count=4 status=noxfer
runsh 'dd if=/dev/pkram0 bs=4096 skip=2 count=1 status=noxfer'
runsh 'yes 0123456789abcde | dd of=/dev/pkram0 bs=4096 count=3 iflag=fullblock conv=notrunc status=noxfer'
runsh 'dd if=/dev/pkram0 bs=4096 2>/dev/null | md5sum'
run cat /sys/block/pkram0/stat
run rmmod ramdisk
run insmod ramdisk.ko
runsh 'dd if=/dev/pkram0 bs=4096 2>/dev/null | md5sum'
runsh 'dd if=/dev/pkram0 bs=4096 skip=100 count=3 2>/dev/null | wc -c'
dmesg_since
run rmmod ramdisk
