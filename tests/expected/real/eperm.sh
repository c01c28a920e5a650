# eperm.ko: init returns -1: userspace sees EPERM.
scenario_start
run insmod eperm.ko
run cat /proc/modules
runsh 'ls /sys/module | grep -c eperm'
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
