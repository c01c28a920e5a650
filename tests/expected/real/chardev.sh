# chardev.ko: device files and a /proc file answered by the module's own file operations: the
# misc device /dev/pkmisc (open/read/write/llseek/poll/ioctl/release, one opener at a time), the
# two-minor region /dev/pkchar0 and /dev/pkchar1 of class pkclass, "pkbare" (register_chrdev, no
# node: mknod makes one; in the sealed machine's /dev that is the seal's answer) and /proc/pkproc
# (proc_ops). Numbers come from /proc/devices and the sysfs dev files, not from stat of the
# nodes (the mount serves them as regular files). The setstr/getstr ioctls pass a char * (_IOC size 8, a pointer's) to a string the module reads with get_user and writes back with
# put_user byte by byte, up to 80 bytes, past the size the command encodes (LKMPG's chardev2.c);
# nth passes a number where the _IOWR int command's size says pointer (chardev2's
# IOCTL_GET_NTH_BYTE): the module returns that byte. A write to a name no device has makes a
# regular file in devtmpfs (a tmpfs), as `dd of=/dev/blkram` does for a disk named blkram0.
# pk-ioctl is tests/tools/pk-ioctl.c.
scenario_start
run insmod chardev.ko
run cat /proc/devices
run cat /proc/misc
run cat /sys/class/misc/pkmisc/dev
run cat /sys/class/misc/pkmisc/uevent
run ls /sys/class/pkclass
run ls /sys/class/pkclass/pkchar0
run cat /sys/class/pkclass/pkchar0/dev /sys/class/pkclass/pkchar1/dev
run cat /sys/class/pkclass/pkchar0/uevent
run readlink /sys/class/pkclass/pkchar1
run ls /dev/pkmisc /dev/pkchar0 /dev/pkchar1
runsh 'echo hello > /dev/pkmisc'
run cat /dev/pkmisc
runsh 'dd if=/dev/pkmisc bs=2 count=2 2>/dev/null'
runsh 'dd if=/dev/pkmisc bs=1 skip=2 count=3 2>/dev/null'
run ./pk-ioctl /dev/pkmisc poll
run ./pk-ioctl /dev/pkmisc getlen
run ./pk-ioctl /dev/pkmisc setfill 0x7a
run cat /dev/pkmisc
run ./pk-ioctl /dev/pkmisc double 21
run ./pk-ioctl /dev/pkmisc double -5
run ./pk-ioctl /dev/pkmisc setstr "a string longer than eight bytes"
run ./pk-ioctl /dev/pkmisc getlen
run cat /dev/pkmisc
run ./pk-ioctl /dev/pkmisc getstr
run ./pk-ioctl /dev/pkmisc setstr 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz
run ./pk-ioctl /dev/pkmisc getstr
run ./pk-ioctl /dev/pkmisc nth 0
run ./pk-ioctl /dev/pkmisc nth 10
run ./pk-ioctl /dev/pkmisc nth 79
run ./pk-ioctl /dev/pkmisc nth 80
run ./pk-ioctl /dev/pkmisc raw 0x6b09
run ./pk-ioctl /dev/pkmisc raw 0x5401
run ./pk-ioctl /dev/pkmisc reset
run ./pk-ioctl /dev/pkmisc getlen
run ./pk-ioctl /dev/pkmisc poll
run cat /dev/pkmisc
run ./pk-ioctl /dev/pkmisc write 300
run ./pk-ioctl /dev/pkmisc write 256 0x41
run ./pk-ioctl /dev/pkmisc getlen
runsh 'dd if=/dev/pkmisc bs=64 2>/dev/null | wc -c'
runsh 'echo 42 > /proc/pkproc'
run cat /proc/pkproc
runsh 'echo nope > /proc/pkproc'
run cat /proc/pkproc
runsh 'dd if=/proc/pkproc bs=1 skip=6 count=2 2>/dev/null'
runsh 'exec 3</dev/pkmisc'
run cat /dev/pkmisc
runsh 'exec 3<&-'
runsh 'echo again > /dev/pkmisc'
run cat /dev/pkmisc
run cat /dev/pkchar0
run cat /dev/pkchar0
run cat /dev/pkchar1
runsh 'echo x > /dev/pkchar0'
run ./pk-ioctl /dev/pkchar1 getlen
runsh 'mknod /dev/pkbare c $(grep pkbare /proc/devices | cut -d" " -f1) 3 && ls /dev/pkbare && cat /dev/pkbare; echo status=$?'
runsh 'mknod /dev/pkbare c 1 3; echo status=$?; rm /dev/pkbare; ls /dev/pkbare'
runsh 'echo written > /dev/pkfile; cat /dev/pkfile; ls -l /dev/pkfile | cut -c1-10'
runsh 'dd if=/dev/zero of=/dev/pkfile bs=1k count=3 2>/dev/null; wc -c < /dev/pkfile; echo more >> /dev/pkfile; tail -c 5 /dev/pkfile'
runsh 'rm /dev/pkfile; ls /dev/pkfile'
dmesg_since
run rmmod chardev
run cat /proc/devices
run cat /proc/misc
runsh 'ls /dev | grep pk'
run ls /dev/pkmisc /dev/pkchar0 /dev/pkchar1
run ls /sys/class/pkclass
run cat /proc/pkproc
runsh 'dmesg -r | tail -n 1'
