# One patched copy of hello.ko per loader check (tests/variants.py makes them), loaded in one
# boot: the ELF checks first, then the later steps, then the ones that load (each unloaded).
scenario_start
for v in hdrlen type arch shentsize shstrndx strhdr strempty strnul sec0 symlink secoff secname \
	nosymtab nothismod layoutcrc wx printkcrc relatype relaset ctors; do
	run insmod v_$v.ko
done
for v in noretpoline intree testmod noname livepatch novermagic; do
	run insmod v_$v.ko
	run rmmod hello
done
run cat /proc/sys/kernel/tainted
dmesg_since
