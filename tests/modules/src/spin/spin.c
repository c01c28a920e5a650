// SPDX-License-Identifier: GPL-2.0
/* init never returns: an endless loop the emulator must stop. */
#include <linux/module.h>

static volatile int stop;

static int __init spin_init(void)
{
	while (!stop)
		;
	return 0;
}

static void __exit spin_exit(void)
{
}

module_init(spin_init);
module_exit(spin_exit);
MODULE_LICENSE("GPL");
