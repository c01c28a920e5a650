// SPDX-License-Identifier: GPL-2.0
/* For scripts/bench: `loops` iterations of a short loop, then `calls` calls of a kernel function
 * answered by the emulator, so both the CPU's speed and a kernel call's cost can be measured. */
#include <linux/module.h>
#include <linux/string.h>

static unsigned long loops;
module_param(loops, ulong, 0444);
static unsigned long calls;
module_param(calls, ulong, 0444);

static volatile unsigned long sink;
static const char *volatile word = "pseudokernel";

static int __init busy_init(void)
{
	unsigned long i;

	for (i = 0; i < loops; i++)
		sink += i;
	for (i = 0; i < calls; i++)
		sink += strlen(word);
	return 0;
}

static void __exit busy_exit(void)
{
}

module_init(busy_init);
module_exit(busy_exit);
MODULE_LICENSE("GPL");
