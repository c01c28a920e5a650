// SPDX-License-Identifier: GPL-2.0
/*
 * ktask: work that lives between insmod and rmmod, as a course's "kernel threads and timers"
 * chapter builds it. A kthread that ticks in an msleep() loop until kthread_stop(); a kthread
 * that sleeps in wait_event_interruptible() until a write to /proc/pk_ktask wakes it; a timer
 * that re-arms itself; a delayed work item. /proc/pk_ktask says whether the ticker and the
 * timer went on while nothing else ran (counts, not exact: they follow the clock); its read
 * takes the mutex the ticker holds across its msleep(), so a reader waits for the ticker.
 * A third kthread sleeps in wait_event_interruptible() on a queue nobody wakes: only
 * kthread_stop() ends it (its TIF_NOTIFY_SIGNAL makes the wait return -ERESTARTSYS), and
 * msleep_interruptible() then returns at once with what it had left.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

static unsigned int period_ms = 50;
module_param(period_ms, uint, 0444);
MODULE_PARM_DESC(period_ms, "how often the ticker ticks and the timer fires (ms)");

static bool crash;
module_param(crash, bool, 0444);
MODULE_PARM_DESC(crash, "the waiter writes through NULL when it gets 13 (an oops in a kthread)");

static struct task_struct *ticker, *waiter, *sleeper;
static DECLARE_WAIT_QUEUE_HEAD(never);
static atomic_t ticks = ATOMIC_INIT(0), fired = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(wq);
static int pending, value, last = -1;
static struct timer_list timer;
static struct proc_dir_entry *entry;
static DEFINE_MUTEX(lock);

static void delayed_fn(struct work_struct *work)
{
	pr_info("delayed work runs in %s\n", in_task() ? "a task" : "interrupt context");
}
static DECLARE_DELAYED_WORK(delayed, delayed_fn);

static int ticker_fn(void *data)
{
	while (!kthread_should_stop()) {
		mutex_lock(&lock);
		atomic_inc(&ticks);
		msleep(period_ms);
		mutex_unlock(&lock);
	}
	pr_info("%s stops\n", current->comm);
	return 5;
}

static int waiter_fn(void *data)
{
	for (;;) {
		if (wait_event_interruptible(wq, pending || kthread_should_stop()))
			continue;
		if (kthread_should_stop())
			break;
		pending = 0;
		last = value;
		pr_info("%s got %d\n", current->comm, value);
		if (crash && value == 13)
			*(volatile int *)NULL = 13;
	}
	pr_info("%s stops\n", current->comm);
	return 6;
}

static int sleeper_fn(void *data)
{
	int ret;
	unsigned long left;

	while (!kthread_should_stop()) {
		ret = wait_event_interruptible(never, 0);
		pr_info("%s: wait_event_interruptible = %d, signal_pending = %d\n", current->comm, ret,
			signal_pending(current));
		left = msleep_interruptible(10000);
		pr_info("%s: msleep_interruptible(10000) left %lu ms\n", current->comm, left);
	}
	return 9;
}

static void timer_fn(struct timer_list *t)
{
	atomic_inc(&fired);
	mod_timer(&timer, jiffies + msecs_to_jiffies(period_ms));
}

static int ktask_show(struct seq_file *m, void *v)
{
	if (mutex_lock_interruptible(&lock))
		return -ERESTARTSYS;
	seq_printf(m, "ticker ran 5 times or more: %s\n", atomic_read(&ticks) >= 5 ? "yes" : "no");
	seq_printf(m, "timer fired 5 times or more: %s\n", atomic_read(&fired) >= 5 ? "yes" : "no");
	seq_printf(m, "waiter got: %d\n", last);
	mutex_unlock(&lock);
	return 0;
}

static int ktask_open(struct inode *inode, struct file *file)
{
	return single_open(file, ktask_show, NULL);
}

static ssize_t ktask_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	int v, ret = kstrtoint_from_user(buf, count, 10, &v);

	if (ret)
		return ret;
	pr_info("write %d\n", v);
	value = v;
	pending = 1;
	wake_up_interruptible(&wq);
	return count;
}

static const struct proc_ops ktask_ops = {
	.proc_open = ktask_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = ktask_write,
};

static int __init ktask_init(void)
{
	entry = proc_create("pk_ktask", 0644, NULL, &ktask_ops);
	if (!entry)
		return -ENOMEM;
	ticker = kthread_run(ticker_fn, NULL, "pk-ticker");
	if (IS_ERR(ticker)) {
		proc_remove(entry);
		return PTR_ERR(ticker);
	}
	waiter = kthread_run(waiter_fn, NULL, "pk-waiter");
	if (IS_ERR(waiter)) {
		kthread_stop(ticker);
		proc_remove(entry);
		return PTR_ERR(waiter);
	}
	sleeper = kthread_run(sleeper_fn, NULL, "pk-sleeper");
	if (IS_ERR(sleeper)) {
		kthread_stop(waiter);
		kthread_stop(ticker);
		proc_remove(entry);
		return PTR_ERR(sleeper);
	}
	timer_setup(&timer, timer_fn, 0);
	mod_timer(&timer, jiffies + msecs_to_jiffies(period_ms));
	schedule_delayed_work(&delayed, msecs_to_jiffies(200));
	pr_info("started, period %u ms\n", period_ms);
	return 0;
}

static void __exit ktask_exit(void)
{
	int ret;

	pr_info("exit\n");
	del_timer_sync(&timer);
	cancel_delayed_work_sync(&delayed);
	ret = kthread_stop(waiter);
	pr_info("kthread_stop(waiter) = %d\n", ret);
	ret = kthread_stop(ticker);
	pr_info("kthread_stop(ticker) = %d\n", ret);
	ret = kthread_stop(sleeper);
	pr_info("kthread_stop(sleeper) = %d\n", ret);
	proc_remove(entry);
}

module_init(ktask_init);
module_exit(ktask_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kthreads, a timer and a delayed work item that live between insmod and rmmod");
