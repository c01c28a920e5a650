# outcomes.ko: kernel functions whose answers decide what a driver does next, one case per load
# (the "case" parameter): GPIO with no controller (init returns gpio_request's error), a kprobe
# finding kallsyms_lookup_name, static keys switched both ways, a kthread init waits for, a
# kthread that ends on its own (kthread_complete_and_exit: nothing left for rmmod), a tasklet
# scheduled before an mdelay, get_current_tty and the foreground console vc_cons[fg_console],
# shash digests of built-in and modular algorithms, pr_debug with and without dyndbg=+p,
# dma_alloc_coherent, and a platform driver's managed resources (devm_kzalloc,
# dmam_alloc_coherent, devm_add_action) released at unbind, newest first, and after a probe
# that fails with -ENOMEM. gpio_request(575) and (2000) find gpio_is_valid's bound
# (CONFIG_ARCH_NR_GPIO 1024 on 6.1, none on 6.12). The order of the lines in the kernel log
# (thread, tasklet, probe, remove and devres action against init's and exit's) is part of the answer.
# case=bus: a bus of its own, /sys/bus/pkbus with bus.c's files and its attributes.
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
run insmod outcomes.ko case=kthread_exit
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
run insmod outcomes.ko case=devres
run ls /sys/bus/platform/drivers/pk-outcomes
run rmmod outcomes
run insmod outcomes.ko case=devres_fail
run ls /sys/bus/platform/drivers/pk-outcomes
run rmmod outcomes
run insmod outcomes.ko case=bus
run ls /sys/bus/pkbus
run ls /sys/bus/pkbus/devices /sys/bus/pkbus/drivers
run cat /sys/bus/pkbus/version /sys/bus/pkbus/answer /sys/bus/pkbus/drivers_autoprobe
runsh 'ls -l /sys/bus/pkbus | cut -c1-10'
runsh 'echo nothing > /sys/bus/pkbus/drivers_probe; echo status=$?'
run rmmod outcomes
run ls /sys/bus/pkbus
dmesg_since
