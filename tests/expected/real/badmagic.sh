# badmagic.ko: a foreign vermagic (" PREEMPT " for " preempt "): refused, then forced with insmod -f.
scenario_start
run insmod badmagic.ko
run cat /proc/modules
run cat /proc/sys/kernel/tainted
dmesg_since
run insmod -f badmagic.ko
run cat /proc/modules
run cat /sys/module/badmagic/taint
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
run rmmod badmagic
run cat /proc/sys/kernel/tainted
