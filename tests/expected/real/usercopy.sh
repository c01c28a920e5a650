# usercopy.ko: /dev/pk_usercopy's copies as hardened usercopy (mm/usercopy.c) checks them: a
# write goes into an object of the slab cache pk_usercopy (24 bytes, user copies only to bytes
# 8..15), a read comes from a kmalloc(20) object (kmalloc-32: all 32 bytes); a copy outside is the
# kernel's BUG (tests/modules/src/usercopy).
scenario_start
run insmod usercopy.ko
runsh 'printf ABCDEFGH | dd of=/dev/pk_usercopy bs=8 seek=1 count=1 2>/dev/null'
runsh 'printf ABCD | dd of=/dev/pk_usercopy bs=4 seek=3 count=1 2>/dev/null'
runsh 'printf ABCDEFGHI | dd of=/dev/pk_usercopy bs=9 count=1 2>/dev/null'
runsh 'dd if=/dev/pk_usercopy bs=32 count=1 2>/dev/null | wc -c'
runsh 'dd if=/dev/pk_usercopy bs=10 skip=1 count=1 2>/dev/null; echo'
runsh 'dd if=/dev/pk_usercopy of=/dev/null bs=33 count=1 2>/dev/null'
runsh 'printf ABCDEFGH | dd of=/dev/pk_usercopy bs=4 seek=3 count=2 2>/dev/null'
run cat /proc/sys/kernel/tainted
run rmmod usercopy
dmesg_since
