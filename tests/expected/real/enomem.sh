# enomem.ko: init returns -ENOMEM: the load fails, the module is freed.
scenario_start
run insmod enomem.ko
run cat /proc/modules
runsh 'ls /sys/module | grep -c enomem'
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
