# hostile.ko mode=bigline: an init that misbehaves (tests/modules/src/hostile); one boot per mode.
scenario_start
run insmod hostile.ko mode=bigline
run cat /proc/modules
run cat /proc/sys/kernel/tainted
dmesg_since
