# proprietary.ko: MODULE_LICENSE("Proprietary"): taints P.
scenario_start
run insmod proprietary.ko
run cat /proc/modules
run cat /sys/module/proprietary/initstate
run cat /sys/module/proprietary/taint
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
run rmmod proprietary
run cat /proc/modules
run cat /proc/sys/kernel/tainted
