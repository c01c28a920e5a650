// SPDX-License-Identifier: GPL-2.0
/*
 * The contexts fixture: where each kind of deferred callback runs. init arms a timer, an
 * hrtimer in hard and in soft mode, a tasklet, a work item and a delayed work item, one at a
 * time, and waits for each (wait_for_completion): each callback prints the task it finds in
 * current (comm, pid), the interrupt state (in_interrupt, in_softirq, in_hardirq, in_task) and
 * the preempt count's interrupt bits, as a driver author would look at them.
 */
#include <linux/completion.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

static DECLARE_COMPLETION(done);
static struct timer_list timer;
static struct hrtimer hrt;
static struct tasklet_struct tasklet;
static struct work_struct work;
static struct delayed_work dwork;

static void report(const char *what)
{
	pr_info("contexts: %s: comm=%s pid=%d in_interrupt=%d in_softirq=%d in_hardirq=%d in_task=%d irq_bits=%#lx\n",
		what, current->comm, task_pid_nr(current), !!in_interrupt(), !!in_softirq(), !!in_hardirq(),
		!!in_task(), (unsigned long)(preempt_count() & (SOFTIRQ_MASK | HARDIRQ_MASK | NMI_MASK)));
}

static void timer_fn(struct timer_list *t)
{
	report("timer");
	complete(&done);
}

static enum hrtimer_restart hrtimer_fn(struct hrtimer *t)
{
	report(t->is_soft ? "hrtimer soft" : "hrtimer");
	complete(&done);
	return HRTIMER_NORESTART;
}

static void tasklet_fn(struct tasklet_struct *t)
{
	report("tasklet");
	complete(&done);
}

static void work_fn(struct work_struct *w)
{
	report("work");
	complete(&done);
}

static void dwork_fn(struct work_struct *w)
{
	report("delayed work");
	complete(&done);
}

static int wait(const char *what)
{
	if (!wait_for_completion_timeout(&done, HZ)) {
		pr_info("contexts: %s never ran\n", what);
		return -ETIMEDOUT;
	}
	return 0;
}

static int __init contexts_init(void)
{
	int err;

	report("init");
	timer_setup(&timer, timer_fn, 0);
	mod_timer(&timer, jiffies + 1);
	err = wait("timer");
	hrtimer_init(&hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrt.function = hrtimer_fn;
	hrtimer_start(&hrt, ms_to_ktime(1), HRTIMER_MODE_REL);
	err = err ?: wait("hrtimer");
	hrtimer_init(&hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	hrt.function = hrtimer_fn;
	hrtimer_start(&hrt, ms_to_ktime(1), HRTIMER_MODE_REL_SOFT);
	err = err ?: wait("hrtimer soft");
	tasklet_setup(&tasklet, tasklet_fn);
	tasklet_schedule(&tasklet);
	err = err ?: wait("tasklet");
	INIT_WORK(&work, work_fn);
	schedule_work(&work);
	err = err ?: wait("work");
	INIT_DELAYED_WORK(&dwork, dwork_fn);
	schedule_delayed_work(&dwork, 1);
	err = err ?: wait("delayed work");
	report("init done");
	return err;
}

static void __exit contexts_exit(void)
{
	del_timer_sync(&timer);
	hrtimer_cancel(&hrt);
	tasklet_kill(&tasklet);
	cancel_work_sync(&work);
	cancel_delayed_work_sync(&dwork);
	report("exit");
}

module_init(contexts_init);
module_exit(contexts_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("where timers, hrtimers, tasklets and work items run");
MODULE_AUTHOR("pseudokernel fixtures");
