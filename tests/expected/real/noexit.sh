# noexit.ko: an init and no exit, so it cannot be unloaded ([permanent]).
scenario_start
run insmod noexit.ko
run cat /proc/modules
run lsmod
run cat /sys/module/noexit/refcnt
run rmmod noexit
run rmmod -f noexit
run cat /proc/modules
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
