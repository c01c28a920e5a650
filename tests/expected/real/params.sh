# params.ko: one parameter of every standard type; defaults, every one set, the error cases.
scenario_start
run insmod params.ko
run rmmod params
run insmod params.ko p_byte=200 p_short=-300 p_ushort=400 p_int=-500 p_uint=600 p_long=-700 p_ulong=800 p_ullong=900 p_hexint=0xabc p_charp=eleven p_bool=1 p_invbool=0 p_bint=1 p_string=twelve p_array=5,6,7 p_hidden=18
run ls -la /sys/module/params/parameters
echo "=== cat every file in /sys/module/params/parameters ==="
for f in $(ls /sys/module/params/parameters); do
	echo "--- $f"
	cat /sys/module/params/parameters/$f 2>&1
done
echo "exit=$?"
runsh 'echo 12345 > /sys/module/params/parameters/p_int'
run cat /sys/module/params/parameters/p_int
runsh 'echo 999 > /sys/module/params/parameters/p_byte'
run cat /sys/module/params/parameters/p_byte
runsh 'echo newer > /sys/module/params/parameters/p_charp'
run cat /sys/module/params/parameters/p_charp
runsh 'echo 9,8 > /sys/module/params/parameters/p_array'
run cat /sys/module/params/parameters/p_array
runsh 'echo 1 > /sys/module/params/parameters/p_ushort'
run rmmod params
run insmod params.ko p_int=abc
run insmod params.ko p_byte=300
run insmod params.ko p_string=a_string_longer_than_fifteen
run insmod params.ko p_array=1,2,3,4,5
run insmod params.ko nosuch=1
run rmmod params
run insmod params.ko p_int=3 -- p_uint=4
run rmmod params
run insmod params.ko 'p_charp="two words"' p_bool p_invbool=y
run cat /sys/module/params/parameters/p_charp
run rmmod params
run cat /proc/sys/kernel/tainted
dmesg_since
kmsg_since
