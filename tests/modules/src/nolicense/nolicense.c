// SPDX-License-Identifier: GPL-2.0
/* No license at all (modpost insists on one, so the build blanks it): 'unspecified' taints the kernel. */
#include <linux/module.h>

static int __init nolicense_init(void)
{
	return 0;
}

static void __exit nolicense_exit(void)
{
}

module_init(nolicense_init);
module_exit(nolicense_exit);
MODULE_LICENSE("GPL");	/* blanked out after the build */
