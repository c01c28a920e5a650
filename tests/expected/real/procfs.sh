# procfs.ko: files in /proc, each read through the module's own callbacks (show, seq_operations,
# proc_ops with single_open, a raw proc_read, more than a page of records), then gone with the module.
# stat shows modes only, of the files whose show counts nothing: the real /proc reports size 0 and
# runs no show for a stat; the mount reports the content's length, and a stat runs show once
# (pseudokernel/fs/procfs.py: proc_entry)
scenario_start
run insmod procfs.ko
run ls /proc/pk_procfs
run stat -c '%a %n' /proc/pk_procfs/ops /proc/pk_procfs/items /proc/pk_procfs/raw /proc/pk_procfs/big
run cat /proc/pk_procfs/single
run cat /proc/pk_procfs/single
run cat /proc/pk_top
run cat /proc/pk_procfs/ops
run cat /proc/pk_procfs/items
run cat /proc/pk_procfs/raw
runsh 'cat /proc/pk_procfs/big | md5sum'
runsh 'wc -lc < /proc/pk_procfs/big'
run head -n 3 /proc/pk_procfs/big
runsh 'dd if=/proc/pk_procfs/raw bs=4 count=3 2>/dev/null'
runsh 'dd if=/proc/pk_procfs/items bs=5 skip=1 2>/dev/null'
run rmmod procfs
run ls /proc/pk_procfs
run cat /proc/pk_top
dmesg_since
