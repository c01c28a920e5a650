// SPDX-License-Identifier: GPL-2.0
/* An init and no exit: the kernel refuses to unload it ([permanent]). */
#include <linux/module.h>

static int __init noexit_init(void)
{
	pr_info("noexit: here to stay\n");
	return 0;
}

module_init(noexit_init);
MODULE_LICENSE("GPL");
