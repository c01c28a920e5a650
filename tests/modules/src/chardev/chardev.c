// SPDX-License-Identifier: GPL-2.0
/*
 * The chardev fixture: every way a module answers through a device file or a /proc file,
 * each operation logged so that dmesg shows which callbacks ran.
 *
 *  - /dev/pkmisc, a misc device: one opener at a time (-EBUSY for a second), a 256-byte buffer
 *    that write() replaces and read() returns, llseek, poll, and ioctls on magic 'k' of every
 *    direction (_IO reset, _IOR length, _IOW fill byte, _IOWR doubling an int in place) and,
 *    as LKMPG's chardev2.c does, a string of up to 80 bytes passed by a char * argument whose
 *    _IOC size (8) is the pointer's: read with get_user and written back with put_user, byte by byte;
 *    and, as chardev2.c's IOCTL_GET_NTH_BYTE, an _IOWR int command whose argument is the index
 *    itself, not a pointer: the byte is the return value;
 *  - /dev/pkchar0 and /dev/pkchar1: a region of two minors, one cdev each, in class "pkclass";
 *    read says how many times that minor was opened, write is refused;
 *  - "pkbare": register_chrdev() with a dynamic major and no node;
 *  - /proc/pkproc: proc_ops with open, read, write (an int), lseek and release.
 */
#define pr_fmt(fmt) "chardev: " fmt

#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#define PK_BUF 256
#define PK_MAGIC 'k'
#define PK_RESET _IO(PK_MAGIC, 0)
#define PK_GETLEN _IOR(PK_MAGIC, 1, int)
#define PK_SETFILL _IOW(PK_MAGIC, 2, unsigned char)
#define PK_DOUBLE _IOWR(PK_MAGIC, 3, int)
#define PK_SETSTR _IOW(PK_MAGIC, 4, char *)
#define PK_GETSTR _IOR(PK_MAGIC, 5, char *)
#define PK_NTH _IOWR(PK_MAGIC, 6, int)
#define PK_STR_MAX 80

/* ---------------------------------------------------------------- /dev/pkmisc */

static char misc_buf[PK_BUF];
static size_t misc_len;
static atomic_t misc_busy = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(misc_wait);

static int misc_open(struct inode *inode, struct file *file)
{
	if (atomic_cmpxchg(&misc_busy, 0, 1)) {
		pr_info("pkmisc: open by %s refused, busy\n", current->comm);
		return -EBUSY;
	}
	pr_info("pkmisc: open by %s, accmode %u\n", current->comm, file->f_flags & O_ACCMODE);
	return 0;
}

static int misc_release(struct inode *inode, struct file *file)
{
	pr_info("pkmisc: release\n");
	atomic_set(&misc_busy, 0);
	return 0;
}

static ssize_t misc_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	loff_t pos = *ppos;
	ssize_t ret = simple_read_from_buffer(ubuf, count, ppos, misc_buf, misc_len);

	pr_info("pkmisc: read at %lld returns %zd\n", pos, ret);
	return ret;
}

static ssize_t misc_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	if (count > PK_BUF) {
		pr_info("pkmisc: write of %zu bytes, no space\n", count);
		return -ENOSPC;
	}
	if (copy_from_user(misc_buf, ubuf, count)) {
		pr_info("pkmisc: write fault\n");
		return -EFAULT;
	}
	misc_len = count;
	pr_info("pkmisc: write of %zu bytes\n", count);
	wake_up_interruptible(&misc_wait);
	return count;
}

static loff_t misc_llseek(struct file *file, loff_t offset, int whence)
{
	loff_t ret = fixed_size_llseek(file, offset, whence, misc_len);

	pr_info("pkmisc: llseek %lld whence %d returns %lld\n", offset, whence, ret);
	return ret;
}

static __poll_t misc_poll(struct file *file, struct poll_table_struct *wait)
{
	__poll_t mask = 0;

	poll_wait(file, &misc_wait, wait);
	if (misc_len)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (misc_len < PK_BUF)
		mask |= EPOLLOUT | EPOLLWRNORM;
	pr_info("pkmisc: poll returns %#x\n", (__force unsigned int)mask);
	return mask;
}

static long misc_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	char __user *ustr = (char __user *)arg;
	unsigned char fill;
	size_t i;
	char ch;
	int val;

	switch (cmd) {
	case PK_RESET:
		memset(misc_buf, 0, sizeof(misc_buf));
		misc_len = 0;
		pr_info("pkmisc: ioctl reset\n");
		return 0;
	case PK_GETLEN:
		pr_info("pkmisc: ioctl getlen %zu\n", misc_len);
		return put_user((int)misc_len, (int __user *)uarg);
	case PK_SETFILL:
		if (get_user(fill, (unsigned char __user *)uarg))
			return -EFAULT;
		memset(misc_buf, fill, misc_len);
		pr_info("pkmisc: ioctl setfill %#x over %zu bytes\n", fill, misc_len);
		return 0;
	case PK_DOUBLE:
		if (copy_from_user(&val, uarg, sizeof(val)))
			return -EFAULT;
		pr_info("pkmisc: ioctl double %d\n", val);
		val *= 2;
		if (copy_to_user(uarg, &val, sizeof(val)))
			return -EFAULT;
		return 0;
	case PK_SETSTR:
		for (i = 0; i < PK_STR_MAX; i++) {
			if (get_user(ch, ustr + i))
				return -EFAULT;
			if (!ch)
				break;
			misc_buf[i] = ch;
		}
		misc_len = i;
		pr_info("pkmisc: ioctl setstr %zu bytes: %.*s\n", misc_len, (int)misc_len, misc_buf);
		return 0;
	case PK_GETSTR:
		for (i = 0; i < misc_len; i++)
			if (put_user(misc_buf[i], ustr + i))
				return -EFAULT;
		if (put_user('\0', ustr + i))
			return -EFAULT;
		pr_info("pkmisc: ioctl getstr %zu bytes\n", misc_len);
		return 0;
	case PK_NTH:
		if (arg >= misc_len)
			return -EINVAL;
		pr_info("pkmisc: ioctl nth %lu is %#x\n", arg, misc_buf[arg]);
		return misc_buf[arg];
	}
	pr_info("pkmisc: ioctl unknown %#x\n", cmd);
	return -ENOTTY;
}

static const struct file_operations misc_fops = {
	.owner = THIS_MODULE,
	.open = misc_open,
	.release = misc_release,
	.read = misc_read,
	.write = misc_write,
	.llseek = misc_llseek,
	.poll = misc_poll,
	.unlocked_ioctl = misc_ioctl,
};

static struct miscdevice pkmisc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pkmisc",
	.fops = &misc_fops,
	.mode = 0666,
};

/* ---------------------------------------------------------------- /dev/pkchar0, /dev/pkchar1 */

#define PKCHAR_MINORS 2

struct pkchar {
	struct cdev cdev;
	int opens;
};

static dev_t pkchar_base;
static struct pkchar pkchars[PKCHAR_MINORS];
static struct class *pkclass;

static int pkchar_open(struct inode *inode, struct file *file)
{
	struct pkchar *pc = container_of(inode->i_cdev, struct pkchar, cdev);

	pc->opens++;
	file->private_data = (void *)(long)pc->opens;
	pr_info("pkchar%u: open %d by %s, accmode %u\n", iminor(inode), pc->opens, current->comm,
		file->f_flags & O_ACCMODE);
	return 0;
}

static int pkchar_release(struct inode *inode, struct file *file)
{
	pr_info("pkchar%u: release\n", iminor(inode));
	return 0;
}

static ssize_t pkchar_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	unsigned int minor = iminor(file_inode(file));
	char text[48];
	int n = scnprintf(text, sizeof(text), "pkchar%u opened %ld times\n", minor,
			  (long)file->private_data);
	loff_t pos = *ppos;
	ssize_t ret = simple_read_from_buffer(ubuf, count, ppos, text, n);

	pr_info("pkchar%u: read at %lld returns %zd\n", minor, pos, ret);
	return ret;
}

static ssize_t pkchar_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	pr_info("pkchar%u: write refused\n", iminor(file_inode(file)));
	return -EINVAL;
}

static const struct file_operations pkchar_fops = {
	.owner = THIS_MODULE,
	.open = pkchar_open,
	.release = pkchar_release,
	.read = pkchar_read,
	.write = pkchar_write,
	.llseek = default_llseek,
};

/* ---------------------------------------------------------------- pkbare (no node) */

static int pkbare_major;

static int pkbare_open(struct inode *inode, struct file *file)
{
	pr_info("pkbare: open minor %u\n", iminor(inode));
	return 0;
}

static const struct file_operations pkbare_fops = {
	.owner = THIS_MODULE,
	.open = pkbare_open,
};

/* ---------------------------------------------------------------- /proc/pkproc */

static int proc_value;

static int pkproc_open(struct inode *inode, struct file *file)
{
	pr_info("pkproc: open by %s, accmode %u\n", current->comm, file->f_flags & O_ACCMODE);
	return 0;
}

static ssize_t pkproc_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	char text[96];
	int n = scnprintf(text, sizeof(text), "value=%d name=%s\n", proc_value,
			  file->f_path.dentry->d_name.name);
	loff_t pos = *ppos;
	ssize_t ret = simple_read_from_buffer(ubuf, count, ppos, text, n);

	pr_info("pkproc: read at %lld returns %zd\n", pos, ret);
	return ret;
}

static ssize_t pkproc_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	int err = kstrtoint_from_user(ubuf, count, 0, &proc_value);

	if (err) {
		pr_info("pkproc: write of %zu bytes refused: %d\n", count, err);
		return err;
	}
	pr_info("pkproc: value set to %d\n", proc_value);
	return count;
}

static int pkproc_release(struct inode *inode, struct file *file)
{
	pr_info("pkproc: release\n");
	return 0;
}

static const struct proc_ops pkproc_ops = {
	.proc_open = pkproc_open,
	.proc_read = pkproc_read,
	.proc_write = pkproc_write,
	.proc_lseek = default_llseek,
	.proc_release = pkproc_release,
};

/* ---------------------------------------------------------------- init and exit */

static void pkchar_teardown(int made)
{
	int i;

	for (i = made - 1; i >= 0; i--) {
		device_destroy(pkclass, MKDEV(MAJOR(pkchar_base), i));
		cdev_del(&pkchars[i].cdev);
	}
	class_destroy(pkclass);
	unregister_chrdev_region(pkchar_base, PKCHAR_MINORS);
}

static int __init chardev_init(void)
{
	struct device *dev;
	int err, i;

	err = misc_register(&pkmisc);
	if (err)
		return err;
	pr_info("pkmisc: minor %d\n", pkmisc.minor);

	err = alloc_chrdev_region(&pkchar_base, 0, PKCHAR_MINORS, "pkchar");
	if (err)
		goto out_misc;
	pkclass = class_create(THIS_MODULE, "pkclass");
	if (IS_ERR(pkclass)) {
		err = PTR_ERR(pkclass);
		unregister_chrdev_region(pkchar_base, PKCHAR_MINORS);
		goto out_misc;
	}
	for (i = 0; i < PKCHAR_MINORS; i++) {
		cdev_init(&pkchars[i].cdev, &pkchar_fops);
		pkchars[i].cdev.owner = THIS_MODULE;
		err = cdev_add(&pkchars[i].cdev, MKDEV(MAJOR(pkchar_base), i), 1);
		if (err)
			goto out_chars;
		dev = device_create(pkclass, NULL, MKDEV(MAJOR(pkchar_base), i), NULL, "pkchar%d", i);
		if (IS_ERR(dev)) {
			err = PTR_ERR(dev);
			cdev_del(&pkchars[i].cdev);
			goto out_chars;
		}
	}
	pr_info("pkchar: major %d, minors %d..%d\n", MAJOR(pkchar_base), MINOR(pkchar_base),
		MINOR(pkchar_base) + PKCHAR_MINORS - 1);

	pkbare_major = register_chrdev(0, "pkbare", &pkbare_fops);
	if (pkbare_major < 0) {
		err = pkbare_major;
		goto out_chars;
	}
	pr_info("pkbare: major %d\n", pkbare_major);

	if (!proc_create("pkproc", 0666, NULL, &pkproc_ops)) {
		err = -ENOMEM;
		goto out_bare;
	}
	return 0;

out_bare:
	unregister_chrdev(pkbare_major, "pkbare");
out_chars:
	pkchar_teardown(i);
out_misc:
	misc_deregister(&pkmisc);
	return err;
}

static void __exit chardev_exit(void)
{
	remove_proc_entry("pkproc", NULL);
	unregister_chrdev(pkbare_major, "pkbare");
	pkchar_teardown(PKCHAR_MINORS);
	misc_deregister(&pkmisc);
	pr_info("gone: pkchar0 opened %d times, pkchar1 %d times\n", pkchars[0].opens,
		pkchars[1].opens);
}

module_init(chardev_init);
module_exit(chardev_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("device files and a /proc file answered by the module's own operations");
MODULE_AUTHOR("pseudokernel fixtures");
