# nsimport.ko: uses dma_buf_get (namespace DMA_BUF) without importing the namespace.
scenario_start
run insmod nsimport.ko
run cat /proc/modules
runsh 'ls /sys/module | grep -c nsimport'
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
