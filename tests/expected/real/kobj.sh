# kobj.ko: a module's own files in sysfs and debugfs, each answered by its show/store or file
# operations: /sys/kernel/pkkobj (an attribute group with is_visible), class pkattr (a class
# attribute, a device made with an attribute group), platform driver pkplat (a driver attribute,
# a device it binds, unbind and bind through sysfs) and /sys/kernel/debug/pkdbg (debugfs_create_*).
# differs: ls -l /sys/kernel/debug/pkdbg (debugfs says size 0; the mount says 4096 for a file it serves per open, or the host's sendfile() would read nothing)
scenario_start
runsh 'grep -q " /sys/kernel/debug " /proc/mounts || mount -t debugfs none /sys/kernel/debug'
run grep -c debugfs /proc/mounts
run insmod kobj.ko
run ls /sys/kernel/pkkobj
run ls -l /sys/kernel/pkkobj
run cat /sys/kernel/pkkobj/value
run cat /sys/kernel/pkkobj/ro
run cat /sys/kernel/pkkobj/ro
run cat /sys/kernel/pkkobj/mode
run cat /sys/kernel/pkkobj/hidden
runsh 'echo 7 > /sys/kernel/pkkobj/value'
run cat /sys/kernel/pkkobj/value
runsh 'echo 0x10 > /sys/kernel/pkkobj/value'
run cat /sys/kernel/pkkobj/value
runsh 'echo seven > /sys/kernel/pkkobj/value'
runsh 'echo 1 > /sys/kernel/pkkobj/ro'
run cat /sys/kernel/pkkobj/value
run ls /sys/class/pkattr
run cat /sys/class/pkattr/version
run readlink /sys/class/pkattr/pkattr0
run ls /sys/class/pkattr/pkattr0
run cat /sys/class/pkattr/pkattr0/count
run cat /sys/class/pkattr/pkattr0/uevent
run cat /sys/class/pkattr/pkattr0/dev
run readlink /sys/class/pkattr/pkattr0/subsystem
runsh 'echo 11 > /sys/class/pkattr/pkattr0/count'
run cat /sys/class/pkattr/pkattr0/count
runsh 'echo x > /sys/class/pkattr/pkattr0/count'
run ls /sys/bus/platform/drivers/pkplat
run cat /sys/bus/platform/drivers/pkplat/info
run readlink /sys/bus/platform/drivers/pkplat/pkplat
run readlink /sys/bus/platform/drivers/pkplat/module
run readlink /sys/bus/platform/devices/pkplat
run ls /sys/bus/platform/devices/pkplat
run cat /sys/bus/platform/devices/pkplat/uevent
run cat /sys/bus/platform/devices/pkplat/modalias
run readlink /sys/bus/platform/devices/pkplat/driver
runsh 'echo pkplat > /sys/bus/platform/drivers/pkplat/unbind'
run ls /sys/bus/platform/drivers/pkplat
run readlink /sys/bus/platform/devices/pkplat/driver
runsh 'echo pkplat > /sys/bus/platform/drivers/pkplat/unbind'
runsh 'echo pkplat > /sys/bus/platform/drivers/pkplat/bind'
run readlink /sys/bus/platform/devices/pkplat/driver
runsh 'echo pkplat > /sys/bus/platform/drivers/pkplat/bind'
runsh 'echo nosuch > /sys/bus/platform/drivers/pkplat/bind'
run ls -l /sys/kernel/debug/pkdbg
run cat /sys/kernel/debug/pkdbg/u8
run cat /sys/kernel/debug/pkdbg/u16
run cat /sys/kernel/debug/pkdbg/u32
run cat /sys/kernel/debug/pkdbg/u64
run cat /sys/kernel/debug/pkdbg/x8
run cat /sys/kernel/debug/pkdbg/x16
run cat /sys/kernel/debug/pkdbg/x32
run cat /sys/kernel/debug/pkdbg/x64
run cat /sys/kernel/debug/pkdbg/bool
run cat /sys/kernel/debug/pkdbg/size_t
run cat /sys/kernel/debug/pkdbg/atomic_t
run cat /sys/kernel/debug/pkdbg/u32_ro
run cat /sys/kernel/debug/pkdbg/blob
run cat /sys/kernel/debug/pkdbg/msg
runsh 'echo 255 > /sys/kernel/debug/pkdbg/u8'
run cat /sys/kernel/debug/pkdbg/u8
runsh 'echo 300 > /sys/kernel/debug/pkdbg/u8'
run cat /sys/kernel/debug/pkdbg/u8
runsh 'echo 0x10 > /sys/kernel/debug/pkdbg/x16'
run cat /sys/kernel/debug/pkdbg/x16
runsh 'echo 77 > /sys/kernel/debug/pkdbg/x64'
run cat /sys/kernel/debug/pkdbg/x64
runsh 'echo n > /sys/kernel/debug/pkdbg/bool'
run cat /sys/kernel/debug/pkdbg/bool
runsh 'echo maybe > /sys/kernel/debug/pkdbg/bool'
run cat /sys/kernel/debug/pkdbg/bool
runsh 'echo -1 > /sys/kernel/debug/pkdbg/atomic_t'
run cat /sys/kernel/debug/pkdbg/atomic_t
runsh 'echo abc > /sys/kernel/debug/pkdbg/u32'
run cat /sys/kernel/debug/pkdbg/u32
runsh 'echo 5 > /sys/kernel/debug/pkdbg/u32_ro'
runsh 'echo 1 > /sys/kernel/debug/pkdbg/blob'
runsh 'echo changed > /sys/kernel/debug/pkdbg/msg'
run cat /sys/kernel/debug/pkdbg/msg
runsh 'dd if=/sys/kernel/debug/pkdbg/msg bs=4 skip=1 count=1 2>/dev/null'
dmesg_since
run rmmod kobj
run ls /sys/kernel/pkkobj /sys/class/pkattr /sys/bus/platform/drivers/pkplat /sys/kernel/debug/pkdbg
run ls /sys/bus/platform/devices/pkplat
runsh 'dmesg -r | tail -n 3'
