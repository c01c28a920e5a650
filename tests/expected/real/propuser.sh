# propuser.ko (GPL) uses proprietary.ko's export: it inherits the P taint.
scenario_start
run insmod proprietary.ko
run insmod propuser.ko
run cat /proc/modules
run lsmod
run cat /sys/module/proprietary/taint
run cat /sys/module/propuser/taint
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
