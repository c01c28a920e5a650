// SPDX-License-Identifier: GPL-2.0
/*
 * The hostile fixture: an init that does what a module must never do, chosen by mode=:
 * loop (never returns), recurse (until the stack overflows), rotext (writes to its own
 * read-only text), garbage (jumps to an address where nothing is), alloc (asks for 100 GB),
 * bigline (prints one line of 10 MB), procoops (a /proc file whose show dereferences NULL: the
 * oops comes when it is read). Each must end in a report, never in a stuck daemon.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

static char *mode = "none";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "loop, recurse, rotext, garbage, alloc, bigline or procoops");

static noinline int recurse(int n)
{
	volatile char frame[256];

	frame[0] = n;
	frame[255] = n;
	if (n == 0)
		return 0;
	return recurse(n - 1) + frame[0] + frame[255];
}

static int oops_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d\n", *(volatile int *)m->private);
	return 0;
}

static int __init hostile_init(void)
{
	pr_info("hostile: mode %s\n", mode);
	if (!strcmp(mode, "loop")) {
		for (;;)
			cpu_relax();
	} else if (!strcmp(mode, "recurse")) {
		return recurse(1000000);
	} else if (!strcmp(mode, "rotext")) {
		*(volatile unsigned char *)recurse = 0xcc;
	} else if (!strcmp(mode, "garbage")) {
		void (*fn)(void) = (void (*)(void))0x12345678UL;

		fn();
	} else if (!strcmp(mode, "alloc")) {
		void *p = vmalloc(100UL << 30);

		if (!p)
			return -ENOMEM;
		vfree(p);
	} else if (!strcmp(mode, "bigline")) {
		size_t len = 10 << 20;
		char *buf = vmalloc(len);

		if (!buf)
			return -ENOMEM;
		memset(buf, 'x', len - 1);
		buf[len - 1] = '\0';
		pr_info("hostile: %s\n", buf);
		vfree(buf);
	} else if (!strcmp(mode, "procoops")) {
		if (!proc_create_single_data("pk_hostile", 0444, NULL, oops_show, NULL))
			return -ENOMEM;
	}
	return 0;
}

static void __exit hostile_exit(void)
{
	remove_proc_entry("pk_hostile", NULL);
	pr_info("hostile: exit\n");
}

module_init(hostile_init);
module_exit(hostile_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("an init that misbehaves on request");
MODULE_AUTHOR("pseudokernel fixtures");
