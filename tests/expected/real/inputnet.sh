# inputnet.ko: an input device ("pk-input", BUS_VIRTUAL 1234:5678 v0100, EV_KEY with KEY_A and
# KEY_B, one KEY_A press and release reported at init) and an Ethernet-like net device
# ("pkdummy%d", ether_setup, IFF_NOARP, MAC 02:00:00:00:00:01) as /proc and /sys show them, and
# both gone after rmmod. The input device's inputN is found by its name, so the commands do not
# depend on how many input devices the machine has.
scenario_start
run insmod inputnet.ko
run cat /proc/bus/input/devices
run ls /sys/class/input
runsh 'cat /sys/class/input/input*/name'
runsh 'grep -lx pk-input /sys/class/input/input*/name'
runsh 'd=$(grep -lx pk-input /sys/class/input/input*/name); ls ${d%/name}'
runsh 'd=$(grep -lx pk-input /sys/class/input/input*/name); cd ${d%/name} && cat name phys'
runsh 'd=$(grep -lx pk-input /sys/class/input/input*/name); cd ${d%/name}/id && cat bustype vendor product version'
runsh 'd=$(grep -lx pk-input /sys/class/input/input*/name); cd ${d%/name}/capabilities && cat ev key'
runsh 'd=$(grep -lx pk-input /sys/class/input/input*/name); cat ${d%/name}/modalias'
runsh 'd=$(grep -lx pk-input /sys/class/input/input*/name); cat ${d%/name}/uevent'
runsh 'd=$(grep -lx pk-input /sys/class/input/input*/name); readlink ${d%/name}'
run cat /proc/net/dev
run ls /sys/class/net
run cat /sys/class/net/pkdummy0/address /sys/class/net/pkdummy0/addr_len /sys/class/net/pkdummy0/mtu
run cat /sys/class/net/pkdummy0/type /sys/class/net/pkdummy0/ifindex /sys/class/net/pkdummy0/flags
run cat /sys/class/net/pkdummy0/operstate /sys/class/net/pkdummy0/tx_queue_len
run cat /sys/class/net/pkdummy0/uevent
run readlink /sys/class/net/pkdummy0
dmesg_since
run rmmod inputnet
run cat /proc/bus/input/devices
run ls /sys/class/input
run cat /proc/net/dev
run ls /sys/class/net
runsh 'dmesg -r | tail -n 1'
