// SPDX-License-Identifier: GPL-2.0
/* One fixture for the kernel API families: `insmod kapi.ko test=NAME` runs one scenario. */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/workqueue.h>
#include <linux/timer.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/jiffies.h>
#include <asm/fpu/api.h>

static char *test = "misc";
module_param(test, charp, 0444);
MODULE_PARM_DESC(test, "which scenario to run");

/* misc: a device with a dynamic minor */
static const struct file_operations kapi_fops = { .owner = THIS_MODULE };
static struct miscdevice kapi_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kapi_misc",
	.fops = &kapi_fops,
};
static bool misc_registered;

/* work and timers */
static DECLARE_COMPLETION(done);
static int work_runs;
static void kapi_work_fn(struct work_struct *w)
{
	work_runs++;
	pr_info("kapi: work ran (%d)\n", work_runs);
	complete(&done);
}
static DECLARE_WORK(kapi_work, kapi_work_fn);
static DECLARE_DELAYED_WORK(kapi_dwork, kapi_work_fn);

static struct timer_list kapi_timer;
static unsigned long timer_armed_at;
static void kapi_timer_fn(struct timer_list *t)
{
	pr_info("kapi: timer fired after %lu jiffies\n", jiffies - timer_armed_at);
}

/* the platform bus: a driver and a device that match by name */
static int fault_in_probe;
static int kapi_probe(struct platform_device *pdev)
{
	int *volatile p = NULL;

	dev_info(&pdev->dev, "probed with %s=%d\n", "answer", 42);
	if (fault_in_probe)
		return *p;
	return 0;
}
static PK_REMOVE_T kapi_remove(struct platform_device *pdev)
{
	dev_info(&pdev->dev, "removed\n");
	return PK_REMOVE_RET;
}
static struct platform_driver kapi_driver = {
	.probe = kapi_probe,
	.remove = kapi_remove,
	.driver = { .name = "kapi_pdev" },
};
static struct platform_device *kapi_pdev;

static noinline int recurse(volatile int depth)
{
	volatile char pad[256];

	pad[0] = depth;
	return recurse(depth + 1) + pad[0];
}

static noinline void smash(const char *src, int n)
{
	char buf[8];
	volatile char *d = buf;
	int i;

	for (i = 0; i < n; i++)	/* past the end of buf: over the canary */
		d[i] = src[i];
	pr_info("kapi: %.8s\n", buf);
}

static void kapi_warn_fn(struct work_struct *w)
{
	WARN(1, "kapi: warning from a work item\n");
}
static DECLARE_WORK(kapi_warn_work, kapi_warn_fn);

static int __init kapi_init(void)
{
	if (!strcmp(test, "misc")) {
		int err = misc_register(&kapi_misc);

		if (err)
			return err;
		misc_registered = true;
		pr_info("kapi: misc minor %d\n", kapi_misc.minor);
	} else if (!strcmp(test, "work")) {
		schedule_work(&kapi_work);
		flush_work(&kapi_work);
		schedule_delayed_work(&kapi_dwork, HZ / 10);
		wait_for_completion(&done);
		wait_for_completion(&done);
		pr_info("kapi: work runs %d\n", work_runs);
	} else if (!strcmp(test, "timer")) {
		timer_setup(&kapi_timer, kapi_timer_fn, 0);
		timer_armed_at = jiffies;
		mod_timer(&kapi_timer, jiffies + msecs_to_jiffies(100));
		pr_info("kapi: timer pending %d\n", timer_pending(&kapi_timer));
		msleep(200);
		pr_info("kapi: timer pending %d\n", timer_pending(&kapi_timer));
	} else if (!strcmp(test, "fmt")) {
		pr_info("kapi: [%-6s|%6.3s|%#06x|%+d|%lu|%c]\n", "ab", "abcdef", 0x2a, 5, 1UL << 40, 'z');
		pr_info("kapi: %pe %pe\n", ERR_PTR(-ENODEV), ERR_PTR(-1000));
		pr_cont("kapi: not a continuation\n");
		pr_info("kapi: a line");
		pr_cont(" continued\n");
	} else if (!strcmp(test, "pdev") || !strcmp(test, "fault")) {
		int err = platform_driver_register(&kapi_driver);

		if (err)
			return err;
		fault_in_probe = !strcmp(test, "fault");
		kapi_pdev = platform_device_register_simple("kapi_pdev", PLATFORM_DEVID_NONE, NULL, 0);
		if (IS_ERR(kapi_pdev)) {
			platform_driver_unregister(&kapi_driver);
			return PTR_ERR(kapi_pdev);
		}
	} else if (!strcmp(test, "warn")) {
		schedule_work(&kapi_warn_work);
		flush_work(&kapi_warn_work);
	} else if (!strcmp(test, "recurse")) {
		return recurse(0);
	} else if (!strcmp(test, "ssse3")) {
		kernel_fpu_begin();
		asm volatile("pshufb %xmm0, %xmm0");	/* SSSE3: not on qemu64 */
		kernel_fpu_end();
	} else if (!strcmp(test, "canary")) {
		smash("this string is far too long for the buffer", 40);
	} else {
		return -EINVAL;
	}
	return 0;
}

static void __exit kapi_exit(void)
{
	if (misc_registered)
		misc_deregister(&kapi_misc);
	if (kapi_pdev) {
		platform_device_unregister(kapi_pdev);
		platform_driver_unregister(&kapi_driver);
	}
	cancel_delayed_work_sync(&kapi_dwork);
	del_timer_sync(&kapi_timer);
	pr_info("kapi: exit (%s)\n", test);
}

module_init(kapi_init);
module_exit(kapi_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("pseudokernel kernel API fixture");
