// SPDX-License-Identifier: GPL-2.0
/* Exports a name exporter already exports: the second load is refused. */
#include <linux/module.h>

int exporter_value = 1;
EXPORT_SYMBOL(exporter_value);

static int __init dupexport_init(void)
{
	return 0;
}

static void __exit dupexport_exit(void)
{
}

module_init(dupexport_init);
module_exit(dupexport_exit);
MODULE_LICENSE("GPL");
