# exporter.ko and importer.ko: a holder and a reference, unload order enforced.
scenario_start
run insmod exporter.ko
run insmod importer.ko
run cat /proc/modules
run lsmod
run ls -la /sys/module/exporter/holders
run cat /sys/module/exporter/refcnt
run cat /sys/module/importer/refcnt
run rmmod exporter
run rmmod importer
run rmmod exporter
run cat /proc/modules
dmesg_since
kmsg_since
