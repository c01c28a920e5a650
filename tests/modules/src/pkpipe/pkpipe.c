// SPDX-License-Identifier: GPL-2.0
/*
 * pkpipe: a misc device that is a small pipe. A read waits (wait_event_interruptible) until a
 * writer has put something in, or returns -EAGAIN for O_NONBLOCK; poll says when it would not
 * wait. What a course's "blocking I/O" chapter builds (LDD3's scull pipe, in small).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#define PIPE_SIZE 256

static DEFINE_MUTEX(lock);
static DECLARE_WAIT_QUEUE_HEAD(readers);
static char buf[PIPE_SIZE];
static size_t len;

static ssize_t pkpipe_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	ssize_t n;

	if (mutex_lock_interruptible(&lock))
		return -ERESTARTSYS;
	while (!len) {
		mutex_unlock(&lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		pr_info("%s (%d) waits for data\n", current->comm, current->pid);
		if (wait_event_interruptible(readers, len != 0)) {
			pr_info("%s (%d) interrupted\n", current->comm, current->pid);
			return -ERESTARTSYS;
		}
		if (mutex_lock_interruptible(&lock))
			return -ERESTARTSYS;
	}
	n = min(count, len);
	if (copy_to_user(ubuf, buf, n)) {
		mutex_unlock(&lock);
		return -EFAULT;
	}
	memmove(buf, buf + n, len - n);
	len -= n;
	mutex_unlock(&lock);
	pr_info("%s read %zd bytes\n", current->comm, n);
	return n;
}

static ssize_t pkpipe_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	size_t n;

	if (mutex_lock_interruptible(&lock))
		return -ERESTARTSYS;
	n = min(count, PIPE_SIZE - len);
	if (!n) {
		mutex_unlock(&lock);
		return -ENOSPC;
	}
	if (copy_from_user(buf + len, ubuf, n)) {
		mutex_unlock(&lock);
		return -EFAULT;
	}
	len += n;
	mutex_unlock(&lock);
	pr_info("%s wrote %zu bytes\n", current->comm, n);
	wake_up_interruptible(&readers);
	return n;
}

static __poll_t pkpipe_poll(struct file *file, poll_table *wait)
{
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &readers, wait);
	if (len)
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static const struct file_operations pkpipe_fops = {
	.owner = THIS_MODULE,
	.read = pkpipe_read,
	.write = pkpipe_write,
	.poll = pkpipe_poll,
	.llseek = no_llseek,
};

static struct miscdevice pkpipe_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pkpipe",
	.fops = &pkpipe_fops,
	.mode = 0666,
};

static int __init pkpipe_init(void)
{
	int ret = misc_register(&pkpipe_dev);

	if (!ret)
		pr_info("minor %d\n", pkpipe_dev.minor);
	return ret;
}

static void __exit pkpipe_exit(void)
{
	misc_deregister(&pkpipe_dev);
}

module_init(pkpipe_init);
module_exit(pkpipe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a misc device that is a small pipe: blocking reads woken by writes");
