# outcomes.ko: kernel functions whose answers decide what a driver does next, one case per load
# (the "case" parameter): GPIO with no controller (init returns gpio_request's error), a kprobe
# finding kallsyms_lookup_name, static keys switched both ways, a kthread init waits for, a
# tasklet scheduled before an mdelay, get_current_tty, shash digests of built-in and modular
# algorithms, pr_debug with and without dyndbg=+p, dma_alloc_coherent. The order of the lines in
# the kernel log (thread and tasklet against init's) is part of the answer.
scenario_start
run insmod outcomes.ko
run insmod outcomes.ko case=gpio
run insmod outcomes.ko case=kprobe
run rmmod outcomes
run insmod outcomes.ko case=statickey
run rmmod outcomes
run insmod outcomes.ko case=kthread
run cat /sys/module/outcomes/parameters/case
run rmmod outcomes
run insmod outcomes.ko case=tasklet
run rmmod outcomes
run insmod outcomes.ko case=tty
run rmmod outcomes
run insmod outcomes.ko case=sha256
run rmmod outcomes
run insmod outcomes.ko case=dyndbg
run rmmod outcomes
run insmod outcomes.ko case=dyndbg dyndbg=+p
run rmmod outcomes
run insmod outcomes.ko case=dma
run rmmod outcomes
dmesg_since
