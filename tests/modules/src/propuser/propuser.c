// SPDX-License-Identifier: GPL-2.0
/* A GPL module using a proprietary module's export inherits its P taint. */
#include <linux/module.h>

extern int proprietary_secret(void);

static int __init propuser_init(void)
{
	pr_info("propuser: secret %d\n", proprietary_secret());
	return 0;
}

static void __exit propuser_exit(void)
{
}

module_init(propuser_init);
module_exit(propuser_exit);
MODULE_LICENSE("GPL");
