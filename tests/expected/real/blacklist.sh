# qemu-append: module_blacklist=exporter,hello
# module_blacklist= on the kernel command line: those modules are refused before anything else.
scenario_start
run insmod hello.ko
run insmod exporter.ko
run insmod importer.ko
run insmod noexit.ko
run cat /proc/modules
run cat /proc/cmdline
dmesg_since
