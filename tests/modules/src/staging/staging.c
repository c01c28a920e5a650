// SPDX-License-Identifier: GPL-2.0
/* Marked as a staging driver: taints C. */
#include <linux/module.h>

static int __init staging_init(void)
{
	return 0;
}

static void __exit staging_exit(void)
{
}

module_init(staging_init);
module_exit(staging_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(staging, "Y");
