// SPDX-License-Identifier: GPL-2.0
/*
 * A /proc file whose show never ends: a reader of /proc/procloop spins in the kernel until the
 * stop parameter is set. On a real kernel the reader is stuck (a soft lockup); on the mount the
 * reader must stay killable, and the daemon must go on serving everyone else.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static int stop;
module_param(stop, int, 0644);
MODULE_PARM_DESC(stop, "set to 1 to let readers of /proc/procloop finish");

static int procloop_show(struct seq_file *m, void *v)
{
	while (!READ_ONCE(stop))
		cpu_relax();
	seq_puts(m, "done\n");
	return 0;
}

static int __init procloop_init(void)
{
	if (!proc_create_single("procloop", 0444, NULL, procloop_show))
		return -ENOMEM;
	return 0;
}

static void __exit procloop_exit(void)
{
	remove_proc_entry("procloop", NULL);
}

module_init(procloop_init);
module_exit(procloop_exit);
MODULE_LICENSE("GPL");
