// SPDX-License-Identifier: GPL-2.0
/* Calls two functions no kernel exports: every one is listed, then ENOENT. */
#include <linux/module.h>

extern int pseudokernel_no_such_function(int);
extern int pseudokernel_no_such_other(void);

static int __init unknown_sym_init(void)
{
	return pseudokernel_no_such_function(1) + pseudokernel_no_such_other();
}

static void __exit unknown_sym_exit(void)
{
}

module_init(unknown_sym_init);
module_exit(unknown_sym_exit);
MODULE_LICENSE("GPL");
