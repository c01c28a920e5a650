# hostile.ko mode=procoops: /proc/pk_hostile's show dereferences NULL; reading it oopses.
scenario_start
run insmod hostile.ko mode=procoops
run cat /proc/pk_hostile
run cat /proc/modules
run cat /proc/sys/kernel/tainted
dmesg_since
