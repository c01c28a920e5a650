# The order sysfs lists directories in (readdir order, as find shows it unsorted).
scenario_start
run insmod hello.ko
run insmod params.ko
run find /sys/module/hello -maxdepth 1
run find /sys/module/hello/sections -maxdepth 1
run find /sys/module/params/parameters -maxdepth 1
