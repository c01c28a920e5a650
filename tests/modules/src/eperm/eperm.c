// SPDX-License-Identifier: GPL-2.0
/* init returns -1, which userspace sees as EPERM. */
#include <linux/module.h>

static int __init eperm_init(void)
{
	return -1;
}

static void __exit eperm_exit(void)
{
}

module_init(eperm_init);
module_exit(eperm_exit);
MODULE_LICENSE("GPL");
