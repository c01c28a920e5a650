# Helpers for the scenarios, put before each scenario by scripts/record-reference.
# The guest runs busybox ash in /ko (the fixture .ko files); insmod, rmmod, lsmod, modinfo,
# modprobe, depmod and dmesg are the real kmod/util-linux tools (see scripts/qemu-reference).

# run CMD ARGS...: a section with the command's stdout+stderr and its exit status
run() { echo "=== $* ==="; "$@" 2>&1; echo "exit=$?"; }
# runsh 'PIPELINE': the same for a shell command line
runsh() { echo "=== $1 ==="; eval "$1" 2>&1; echo "exit=$?"; }

# the /dev/kmsg records (header line and any " KEY=value" dictionary lines), read until idle
kmsg_all() { timeout 1 cat /dev/kmsg 2>/dev/null; }
# sequence number the next record will have
kmsg_next_seq() { kmsg_all | grep -v '^ ' | tail -n 1 | awk -F'[,;]' '{ print $2 + 1 }'; }

# kmsg_since / dmesg_since print what was logged since scenario_start
scenario_start() {
	KMSG_SEQ=$(kmsg_next_seq)
	DMESG_LINES=$(dmesg -r | wc -l)
}
dmesg_since() {
	echo "=== dmesg -r (lines logged since the scenario started) ==="
	dmesg -r | tail -n +$((DMESG_LINES + 1))
	echo "exit=$?"
}
kmsg_since() {
	echo "=== /dev/kmsg (records since the scenario started) ==="
	kmsg_all | awk -F'[,;]' -v s="$KMSG_SEQ" '/^ / { if (keep) print; next } { keep = ($2 >= s); if (keep) print }'
	echo "exit=$?"
}
