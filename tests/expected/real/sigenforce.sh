# qemu-append: module.sig_enforce=1
# With signatures enforced: unsigned and unknown-key modules are rejected.
scenario_start
run insmod hello.ko
run insmod v_signed.ko
run insmod v_badsig.ko
run cat /proc/modules
run cat /proc/sys/kernel/tainted
dmesg_since
