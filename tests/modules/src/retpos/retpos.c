// SPDX-License-Identifier: GPL-2.0
/* init returns a positive value: the kernel warns and loads it anyway. */
#include <linux/module.h>

static int __init retpos_init(void)
{
	return 5;
}

static void __exit retpos_exit(void)
{
}

module_init(retpos_init);
module_exit(retpos_exit);
MODULE_LICENSE("GPL");
