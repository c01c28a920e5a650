// SPDX-License-Identifier: GPL-2.0
/* init dereferences a bad pointer: the kernel oopses and the module stays "coming". */
#include <linux/module.h>

static int *volatile target;

static int __init faulty_init(void)
{
	pr_info("oops: about to fault\n");
	return *target;
}

static void __exit faulty_exit(void)
{
}

module_init(faulty_init);
module_exit(faulty_exit);
MODULE_LICENSE("GPL");
