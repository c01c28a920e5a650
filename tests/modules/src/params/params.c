// SPDX-License-Identifier: GPL-2.0
/* One parameter of every standard type, printed by init. */
#include <linux/module.h>
#include <linux/moduleparam.h>

static unsigned char p_byte = 1;
module_param(p_byte, byte, 0644);
static short p_short = -2;
module_param(p_short, short, 0644);
static unsigned short p_ushort = 3;
module_param(p_ushort, ushort, 0444);
static int p_int = -4;
module_param(p_int, int, 0644);
static unsigned int p_uint = 5;
module_param(p_uint, uint, 0600);
static long p_long = -6;
module_param(p_long, long, 0644);
static unsigned long p_ulong = 7;
module_param(p_ulong, ulong, 0644);
static unsigned long long p_ullong = 8;
module_param(p_ullong, ullong, 0644);
static unsigned int p_hexint = 0x9;
module_param(p_hexint, hexint, 0644);
static char *p_charp = "ten";
module_param(p_charp, charp, 0644);
static bool p_bool;
module_param(p_bool, bool, 0644);
static bool p_invbool;
module_param(p_invbool, invbool, 0644);
static int p_bint;
module_param(p_bint, bint, 0644);
static char p_string[16] = "fifteen";
module_param_string(p_string, p_string, sizeof(p_string), 0644);
static int p_array[4] = { 1, 2 };
static int p_array_n = 2;
module_param_array(p_array, int, &p_array_n, 0644);
static int p_hidden = 17;
module_param(p_hidden, int, 0);

static int __init params_init(void)
{
	pr_info("params: byte=%u short=%d ushort=%u int=%d uint=%u long=%ld ulong=%lu ullong=%llu hexint=%#x\n",
		p_byte, p_short, p_ushort, p_int, p_uint, p_long, p_ulong, p_ullong, p_hexint);
	pr_info("params: charp=%s bool=%d invbool=%d bint=%d string=%s array_n=%d [%d,%d,%d,%d] hidden=%d\n",
		p_charp, p_bool, p_invbool, p_bint, p_string, p_array_n,
		p_array[0], p_array[1], p_array[2], p_array[3], p_hidden);
	return 0;
}

static void __exit params_exit(void)
{
}

module_init(params_init);
module_exit(params_exit);
MODULE_LICENSE("GPL");
