// SPDX-License-Identifier: GPL-2.0
/* A proprietary module using a GPL-only export: the symbol is invisible to it. */
#include <linux/module.h>
#include <linux/kobject.h>

static struct kobject *kobj;

static int __init gplonly_init(void)
{
	kobj = kobject_create_and_add("gplonly", NULL);
	return kobj ? 0 : -ENOMEM;
}

static void __exit gplonly_exit(void)
{
	kobject_put(kobj);
}

module_init(gplonly_init);
module_exit(gplonly_exit);
MODULE_LICENSE("GPL v2");	/* rewritten to "Closed" after the build */
