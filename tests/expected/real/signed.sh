# Module signatures: a module signed by a key the kernel does not have, one whose signature is
# corrupt, and an unsigned one (tests/variants.py signs with tests/keys/untrusted.pem).
scenario_start
run insmod v_signed.ko
run cat /proc/modules
run rmmod hello
run insmod v_badsig.ko
run rmmod hello
run insmod hello.ko
run rmmod hello
run cat /proc/sys/kernel/tainted
dmesg_since
