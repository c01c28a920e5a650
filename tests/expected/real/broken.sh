# Files that are not modules, each through insmod; and the missing-file and not-loaded cases.
# random.ko is 4096 deterministic bytes: the SHA-512 digests of "0\n" .. "63\n" in order.
: > empty.ko
printf '\177ELF' > four.ko
head -c 1000 hello.ko > truncated.ko
i=0
while [ $i -lt 64 ]; do echo $i | sha512sum | cut -c1-128 | xxd -r -p; i=$((i + 1)); done > random.ko
printf 'this is a text file, not a kernel module\n' > text.ko
scenario_start
run ls -l empty.ko four.ko truncated.ko random.ko text.ko
run insmod empty.ko
run insmod four.ko
run insmod truncated.ko
run insmod random.ko
run insmod text.ko
run insmod /nonexistent.ko
run rmmod hello
run rmmod -f hello
run cat /proc/modules
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
