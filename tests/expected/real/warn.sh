# warn.ko: WARN_ON in init; a warning report, then the load goes on.
scenario_start
run insmod warn.ko
run dmesg
run cat /proc/modules
run cat /proc/sys/kernel/tainted
kmsg_since
run rmmod warn
