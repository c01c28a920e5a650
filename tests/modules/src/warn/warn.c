// SPDX-License-Identifier: GPL-2.0
/* WARN_ON in init: a warning with a report, then the load goes on. */
#include <linux/module.h>

static volatile int trigger = 1;

static int __init warn_init(void)
{
	WARN_ON(trigger);
	pr_info("warn: still here\n");
	return 0;
}

static void __exit warn_exit(void)
{
}

module_init(warn_init);
module_exit(warn_exit);
MODULE_LICENSE("GPL");
