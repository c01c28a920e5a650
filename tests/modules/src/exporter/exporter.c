// SPDX-License-Identifier: GPL-2.0
/* Exports a function and a variable for importer. */
#include <linux/module.h>

int exporter_value = 42;
EXPORT_SYMBOL(exporter_value);

int exporter_add(int a, int b)
{
	return a + b + exporter_value;
}
EXPORT_SYMBOL_GPL(exporter_add);

static int __init exporter_init(void)
{
	pr_info("exporter: ready, value %d\n", exporter_value);
	return 0;
}

static void __exit exporter_exit(void)
{
	pr_info("exporter: gone\n");
}

module_init(exporter_init);
module_exit(exporter_exit);
MODULE_LICENSE("GPL");
