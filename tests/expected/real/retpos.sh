# retpos.ko: init returns 5: a warning with a stack dump, the module loads anyway.
scenario_start
D0=$(dmesg | wc -l)
S0=$(dmesg -S -r | wc -l)
run insmod retpos.ko
run cat /proc/modules
run cat /sys/module/retpos/initstate
run cat /sys/module/retpos/taint
run cat /proc/sys/kernel/tainted
dmesg_since
runsh 'dmesg | tail -n +$((D0 + 1))'
runsh 'dmesg -S -r | tail -n +$((S0 + 1))'
kmsg_since
run rmmod retpos
run cat /proc/modules
run cat /proc/sys/kernel/tainted
