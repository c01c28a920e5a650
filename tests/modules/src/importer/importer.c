// SPDX-License-Identifier: GPL-2.0
/* Uses exporter's symbols: exporter gains a holder and a reference. */
#include <linux/module.h>

extern int exporter_value;
extern int exporter_add(int a, int b);

static int __init importer_init(void)
{
	pr_info("importer: exporter_add(1, 2) = %d, exporter_value = %d\n",
		exporter_add(1, 2), exporter_value);
	return 0;
}

static void __exit importer_exit(void)
{
	pr_info("importer: bye\n");
}

module_init(importer_init);
module_exit(importer_exit);
MODULE_LICENSE("GPL");
