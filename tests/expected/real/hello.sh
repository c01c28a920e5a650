# hello.ko: a normal load with parameters, everything a user can look at, then the unload.
run insmod hello.ko count=3 who=there
run cat /proc/modules
run lsmod
run ls -la /sys/module/hello /sys/module/hello/sections /sys/module/hello/notes /sys/module/hello/parameters /sys/module/hello/holders
echo "=== cat every regular file under /sys/module/hello except uevent (notes through od -An -tx1) ==="
for f in $(find /sys/module/hello -type f ! -name uevent | sort); do
	echo "--- $f"
	case $f in
	*/notes/*) od -An -tx1 "$f" 2>&1 ;;
	*) cat "$f" 2>&1 ;;
	esac
done
echo "exit=$?"
run cat /proc/sys/kernel/tainted
run systool -m hello -v
run dmesg
run dmesg -r
echo "=== timeout 1 cat /dev/kmsg (every record since boot) ==="
kmsg_all
echo "exit=$?"
run rmmod hello
run lsmod
runsh 'dmesg | tail'
run cat /proc/sys/kernel/tainted
runsh 'ls /sys/module | grep -c hello'
