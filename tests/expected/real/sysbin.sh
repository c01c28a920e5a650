# sysbin.ko: binary sysfs attributes (sysfs_create_bin_file, an attribute group's bin_attrs)
# and a sysfs link (sysfs_create_link) on a kobject under /sys/kernel. A binary attribute's size
# is its declared size (0: unbounded), each read and write runs the module's function with the
# offset and a count clamped to the size, a write at the size is EFBIG, a read-only or
# write-only one refuses the other direction at open.
scenario_start
run insmod sysbin.ko
run ls -l /sys/kernel/pk_bin
run readlink /sys/kernel/pk_bin/peer
runsh 'hexdump -C /sys/kernel/pk_bin/blob'
run cat /sys/kernel/pk_bin/id
runsh 'printf hello > /sys/kernel/pk_bin/blob'
runsh 'dd if=/sys/kernel/pk_bin/blob bs=4 skip=1 count=2 2>/dev/null | hexdump -C'
runsh 'printf abc | dd of=/sys/kernel/pk_bin/blob bs=1 seek=62 conv=notrunc'
runsh 'hexdump -C /sys/kernel/pk_bin/blob | tail -n 2'
runsh 'printf run > /sys/kernel/pk_bin/cmd'
run cat /sys/kernel/pk_bin/cmd
runsh 'echo x > /sys/kernel/pk_bin/id'
run ls /sys/kernel/pk_bin/peer/
run rmmod sysbin
run ls -d /sys/kernel/pk_bin
dmesg_since
