# gplonly.ko: a proprietary ("Closed") module using a GPL-only export.
scenario_start
run insmod gplonly.ko
run cat /proc/modules
runsh 'ls /sys/module | grep -c gplonly'
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
