// SPDX-License-Identifier: GPL-2.0
/* A non-GPL license: taints P, and its exports taint their users. */
#include <linux/module.h>

int proprietary_secret(void)
{
	return 7;
}
EXPORT_SYMBOL(proprietary_secret);

static int __init proprietary_init(void)
{
	pr_info("proprietary: loaded\n");
	return 0;
}

static void __exit proprietary_exit(void)
{
}

module_init(proprietary_init);
module_exit(proprietary_exit);
MODULE_LICENSE("Proprietary");
