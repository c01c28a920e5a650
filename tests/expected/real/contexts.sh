# contexts.ko: where a timer, an hrtimer (hard and soft), a tasklet, a work item and a delayed
# work item run: the task in current and the interrupt state each callback finds
# (tests/modules/src/contexts).
scenario_start
run insmod contexts.ko
run rmmod contexts
dmesg_since
