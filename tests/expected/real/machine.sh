# machine: what the reference machine's own drivers put where a user looks beside a module's
# entries: /proc/partitions (no disk), /proc/net/dev and /sys/class/net (the loopback device),
# /proc/bus/input/devices (the i8042 keyboard), the built-in misc devices, /sys/block.
run cat /proc/partitions
run cat /proc/net/dev
run cat /proc/bus/input/devices
run ls /sys/class/misc
run ls /sys/class/net
run readlink /sys/class/net/lo
run ls /sys/block
