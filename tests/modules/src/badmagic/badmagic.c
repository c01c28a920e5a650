// SPDX-License-Identifier: GPL-2.0
/* Built normally; scripts/build-fixtures then rewrites its vermagic to a foreign one. */
#include <linux/module.h>

static int __init badmagic_init(void)
{
	pr_info("badmagic: loaded anyway\n");
	return 0;
}

static void __exit badmagic_exit(void)
{
}

module_init(badmagic_init);
module_exit(badmagic_exit);
MODULE_LICENSE("GPL");
