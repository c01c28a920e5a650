# staging.ko: MODULE_INFO(staging, "Y"): taints C.
scenario_start
run insmod staging.ko
run cat /proc/modules
run cat /sys/module/staging/initstate
run cat /sys/module/staging/taint
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
run rmmod staging
run cat /proc/modules
run cat /proc/sys/kernel/tainted
