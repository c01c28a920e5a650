# dupexport.ko exports exporter_value, which exporter.ko already exports.
scenario_start
run insmod exporter.ko
run insmod dupexport.ko
run cat /proc/modules
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
