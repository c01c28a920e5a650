// SPDX-License-Identifier: GPL-2.0
/* init fails with -ENOMEM: the module must be freed and insmod must report it. */
#include <linux/module.h>

static int __init enomem_init(void)
{
	pr_err("enomem: refusing to load\n");
	return -ENOMEM;
}

static void __exit enomem_exit(void)
{
}

module_init(enomem_init);
module_exit(enomem_exit);
MODULE_LICENSE("GPL");
