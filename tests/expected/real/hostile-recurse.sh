# hostile.ko mode=recurse: an init that misbehaves (tests/modules/src/hostile); one boot per mode.
# the stack overflow panics the machine before the script's output is sent back: the console
# carries the kernel's messages instead (scripts/record-reference keeps them)
echo 8 > /proc/sys/kernel/printk
scenario_start
run insmod hostile.ko mode=recurse
run cat /proc/modules
run cat /proc/sys/kernel/tainted
dmesg_since
