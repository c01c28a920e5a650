# Compressed module files through kmod: it decompresses in userspace (kmod 30 does, whether or not
# the kernel could: 6.1 has no in-kernel decompression, 6.12 has); Debian kmod reads xz and zstd (it is built without zlib).
scenario_start
run insmod v_xz.ko.xz count=2
run cat /proc/modules
run rmmod hello
run insmod v_zst.ko.zst who=zstd
run rmmod hello
run modinfo -F vermagic v_zst.ko.zst
run insmod -f badmagic.ko
run rmmod badmagic
dmesg_since
