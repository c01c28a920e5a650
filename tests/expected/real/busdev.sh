# busdev.ko: devices of a module's own bus, as LDD3's lddbus makes them: /sys/devices/pkroot (no
# bus, class or parent) and pkdev0 on the bus pkdbus under it, with the bus's uevent variable
# (tests/modules/src/busdev).
scenario_start
run insmod busdev.ko
run ls /sys/devices/pkroot
run cat /sys/devices/pkroot/info /sys/devices/pkroot/uevent
run ls /sys/devices/pkroot/pkdev0
run cat /sys/devices/pkroot/pkdev0/info /sys/devices/pkroot/pkdev0/uevent
run readlink /sys/devices/pkroot/pkdev0/subsystem
run ls /sys/bus/pkdbus/devices
run readlink /sys/bus/pkdbus/devices/pkdev0
run ls /sys/devices/pkroot/power
run rmmod busdev
run ls /sys/devices/pkroot
dmesg_since
