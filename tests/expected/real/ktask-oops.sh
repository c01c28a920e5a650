# ktask.ko crash=1: the waiter kthread writes through NULL when a write gives it 13. The oops
# is the kthread's (its comm and pid, the kthread frames): it dies, the writer, the module and
# its other kthread and timer go on. (rmmod is left out: the real kernel's kthread_stop() of the
# dead thread warns and oopses in rmmod, which is not emulated.)
scenario_start
run insmod ktask.ko crash=1
runsh 'echo 13 > /proc/pk_ktask'
run sleep 0.2
run cat /proc/pk_ktask
run cat /proc/sys/kernel/tainted
dmesg_since
