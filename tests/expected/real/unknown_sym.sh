# unknown_sym.ko: two unresolvable symbols: each is reported, then ENOENT.
scenario_start
run insmod unknown_sym.ko
run cat /proc/modules
runsh 'ls /sys/module | grep -c unknown_sym'
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
