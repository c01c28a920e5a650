// SPDX-License-Identifier: GPL-2.0
/*
 * The procfs fixture: every way a module puts a file in /proc, each read through its own
 * callbacks: proc_create_single() (a show function), proc_create() with proc_ops that
 * single_open(), proc_create_seq() in a proc_mkdir() directory (start/next/stop/show),
 * a raw proc_read that copies to the user buffer with simple_read_from_buffer(), and "big":
 * more than a page of records, some skipped (SEQ_SKIP), one larger than a page on its own.
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

static int reads;
static struct proc_dir_entry *dir;
static const char *const items[] = { "alpha", "beta", "gamma" };
static const char raw_text[] = "raw bytes from proc_read\n";
static char ops_data[] = "the proc_ops entry";

static int single_show(struct seq_file *m, void *v)
{
	reads++;
	seq_printf(m, "single: read %d, items %zu\n", reads, ARRAY_SIZE(items));
	seq_puts(m, "second line\n");
	seq_putc(m, '!');
	seq_putc(m, '\n');
	return 0;
}

static int ops_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: private %s\n", (char *)m->private, m->private ? "set" : "unset");
	seq_put_decimal_ull(m, "decimal ", 1234567);
	seq_put_decimal_ll(m, " negative ", -42);
	seq_putc(m, '\n');
	return 0;
}

static int ops_open(struct inode *inode, struct file *file)
{
	return single_open(file, ops_show, pde_data(inode));
}

static const struct proc_ops ops_fops = {
	.proc_open = ops_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static void *items_start(struct seq_file *m, loff_t *pos)
{
	return *pos < ARRAY_SIZE(items) ? (void *)&items[*pos] : NULL;
}

static void *items_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return items_start(m, pos);
}

static void items_stop(struct seq_file *m, void *v)
{
}

static int items_show(struct seq_file *m, void *v)
{
	const char *const *item = v;

	seq_printf(m, "%ld\t%s\n", (long)(item - items), *item);
	return 0;
}

static const struct seq_operations items_ops = {
	.start = items_start,
	.next = items_next,
	.stop = items_stop,
	.show = items_show,
};

static void *big_start(struct seq_file *m, loff_t *pos)
{
	return *pos < 300 ? pos : NULL;
}

static void *big_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return big_start(m, pos);
}

static int big_show(struct seq_file *m, void *v)
{
	loff_t i = *(loff_t *)v;

	if (i % 7 == 3)
		return SEQ_SKIP;
	if (i == 150)
		seq_printf(m, "%03lld %5000s|\n", i, "wide");
	else
		seq_printf(m, "%03lld %-32s|\n", i, i % 2 ? "odd" : "even");
	return 0;
}

static const struct seq_operations big_ops = {
	.start = big_start,
	.next = big_next,
	.stop = items_stop,
	.show = big_show,
};

static ssize_t raw_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	return simple_read_from_buffer(buf, count, ppos, raw_text, sizeof(raw_text) - 1);
}

static const struct proc_ops raw_fops = {
	.proc_read = raw_read,
	.proc_lseek = default_llseek,
};

static int __init procfs_init(void)
{
	dir = proc_mkdir("pk_procfs", NULL);
	if (!dir)
		return -ENOMEM;
	if (!proc_create_single("single", 0444, dir, single_show) ||
	    !proc_create_data("ops", 0440, dir, &ops_fops, ops_data) ||
	    !proc_create_seq("items", 0444, dir, &items_ops) ||
	    !proc_create("raw", 0400, dir, &raw_fops) ||
	    !proc_create_seq("big", 0444, dir, &big_ops) ||
	    !proc_create_single("pk_top", 0444, NULL, single_show)) {
		proc_remove(dir);
		remove_proc_entry("pk_top", NULL);
		return -ENOMEM;
	}
	pr_info("procfs: /proc/pk_procfs ready\n");
	return 0;
}

static void __exit procfs_exit(void)
{
	proc_remove(dir);
	remove_proc_entry("pk_top", NULL);
	pr_info("procfs: %d reads of single\n", reads);
}

module_init(procfs_init);
module_exit(procfs_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("files in /proc, each read through its callbacks");
MODULE_AUTHOR("pseudokernel fixtures");
