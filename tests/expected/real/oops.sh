# oops.ko: init dereferences NULL; the kernel oopses, insmod dies, the module stays "coming".
scenario_start
run insmod oops.ko
run dmesg
run cat /proc/modules
run ls /sys/module/oops
run cat /sys/module/oops/initstate
run lsmod
run cat /sys/module/oops/coresize /sys/module/oops/initsize /sys/module/oops/refcnt /sys/module/oops/taint
run cat /proc/sys/kernel/tainted
kmsg_since
run rmmod oops
