# nolicense.ko: no license at all: 'unspecified' taints P.
scenario_start
run insmod nolicense.ko
run cat /proc/modules
run cat /sys/module/nolicense/initstate
run cat /sys/module/nolicense/taint
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
run rmmod nolicense
run cat /proc/modules
run cat /proc/sys/kernel/tainted
