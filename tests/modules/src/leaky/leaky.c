// SPDX-License-Identifier: GPL-2.0
/* Allocates in init and forgets to free in exit, and exits holding a mutex: the unload report
 * (pseudokernel's, beyond the kernel) must name both. */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

static DEFINE_MUTEX(leaky_lock);
static char *kept;

static int __init leaky_init(void)
{
	kept = kmalloc(48, GFP_KERNEL);
	if (!kept)
		return -ENOMEM;
	strscpy(kept, "never freed", 48);
	return 0;
}

static void __exit leaky_exit(void)
{
	mutex_lock(&leaky_lock);
	pr_info("leaky: leaving %s behind\n", kept);
}

module_init(leaky_init);
module_exit(leaky_exit);
MODULE_LICENSE("GPL");
