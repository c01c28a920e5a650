# hello.ko loaded twice, and a renamed copy of it: the module name, not the file, counts.
scenario_start
run insmod hello.ko
run insmod hello.ko
run cp hello.ko renamed.ko
run insmod renamed.ko
run cat /proc/modules
run rmmod renamed
run rmmod hello
run rmmod hello
dmesg_since
kmsg_since
