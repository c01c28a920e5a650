# ktask.ko: two kthreads, a timer and a delayed work item that live between insmod and rmmod.
# The ticker sleeps in msleep() until kthread_stop(); the waiter sleeps in
# wait_event_interruptible() until a write to /proc/pk_ktask wakes it (it runs after the
# write, before the next command); the timer re-arms itself; the work item runs once, 200 ms
# after init. /proc/pk_ktask tells whether the ticker and the timer kept running during a
# `sleep 1` in which nothing else ran. rmmod stops the waiter, then the ticker, whose return
# values kthread_stop() passes back.
scenario_start
run insmod ktask.ko
run sleep 1
run cat /proc/pk_ktask
runsh 'echo 3 > /proc/pk_ktask'
runsh 'echo 4 > /proc/pk_ktask'
run cat /proc/pk_ktask
run rmmod ktask
dmesg_since
