// SPDX-License-Identifier: GPL-2.0
/*
 * The outcomes fixture: kernel functions whose answer decides what a driver does next, one case
 * per load, chosen by the "case" parameter (init prints every answer and returns 0 unless the
 * case says otherwise):
 *
 *  - gpio: the legacy GPIO calls with no controller present (gpio_request's error is init's),
 *    and gpiod_get/gpiod_get_optional for a platform device with no GPIO mapping;
 *  - kprobe: kallsyms_lookup_name found through a kprobe on it, then called;
 *  - statickey: static_branch_{unlikely,likely} before and after enable/disable;
 *  - kthread: a thread init starts and waits for (wait_for_completion), stopped at exit;
 *  - tasklet: a tasklet scheduled before an mdelay, killed at exit;
 *  - tty: get_current_tty() of the insmod process;
 *  - sha256: crypto_alloc_shash + digest of "abc" for sha256, sha1, md5 and crc32c;
 *  - dyndbg: a pr_debug beside a pr_info (load it with and without dyndbg=+p);
 *  - dma: dma_alloc_coherent for a platform device with a 32-bit DMA mask.
 */
#define pr_fmt(fmt) "outcomes: " fmt

#include <crypto/hash.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/gpio.h>
#include <linux/gpio/consumer.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/jump_label.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/string.h>
#include <linux/tty.h>

static char *pk_case = "";
module_param_named(case, pk_case, charp, 0444);
MODULE_PARM_DESC(case, "what init does: gpio, kprobe, statickey, kthread, tasklet, tty, sha256, dyndbg or dma");

/* the case init ran, for exit to undo */
static enum { NONE, KTHREAD, TASKLET } loaded;

static int case_gpio(void)
{
	struct platform_device *pdev;
	struct gpio_desc *desc;
	int req, one, irq;

	pr_info("gpio_is_valid(4) = %d\n", gpio_is_valid(4));
	pr_info("gpio_to_desc(4) is %s\n", gpio_to_desc(4) ? "not NULL" : "NULL");
	req = gpio_request(4, "pk");
	pr_info("gpio_request(4) = %d\n", req);
	one = gpio_request_one(5, GPIOF_OUT_INIT_LOW, "pk");
	pr_info("gpio_request_one(5, GPIOF_OUT_INIT_LOW) = %d\n", one);
	irq = gpio_to_irq(4);
	pr_info("gpio_to_irq(4) = %d\n", irq);

	pdev = platform_device_register_simple("pk-outcomes", -1, NULL, 0);
	if (IS_ERR(pdev)) {
		pr_info("platform_device_register_simple = %ld\n", PTR_ERR(pdev));
	} else {
		desc = gpiod_get_optional(&pdev->dev, "reset", GPIOD_OUT_LOW);
		pr_info("gpiod_get_optional(reset) = %s %d\n",
			desc ? (IS_ERR(desc) ? "error" : "desc") : "NULL", PTR_ERR_OR_ZERO(desc));
		if (!IS_ERR_OR_NULL(desc))
			gpiod_put(desc);
		desc = gpiod_get(&pdev->dev, "reset", GPIOD_OUT_LOW);
		pr_info("gpiod_get(reset) = %s %d\n",
			desc ? (IS_ERR(desc) ? "error" : "desc") : "NULL", PTR_ERR_OR_ZERO(desc));
		if (!IS_ERR_OR_NULL(desc))
			gpiod_put(desc);
		platform_device_unregister(pdev);
	}

	if (one == 0)
		gpio_free(5);
	if (req < 0)
		return req;
	gpio_free(4);
	return 0;
}

typedef unsigned long (*lookup_fn)(const char *name);

static int case_kprobe(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	lookup_fn lookup;
	unsigned long found;
	int ret;

	ret = register_kprobe(&kp);
	pr_info("register_kprobe(kallsyms_lookup_name) = %d, addr %s\n", ret,
		kp.addr ? "not NULL" : "NULL");
	if (ret < 0 || !kp.addr)
		return 0;
	lookup = (lookup_fn)kp.addr;
	found = lookup("jiffies");
	pr_info("kallsyms_lookup_name(\"jiffies\") %s &jiffies\n",
		found == (unsigned long)&jiffies ? "==" : "!=");
	pr_info("kp.addr - kallsyms_lookup_name(\"kallsyms_lookup_name\") = %ld\n",
		(long)((unsigned long)kp.addr - lookup("kallsyms_lookup_name")));
	pr_info("kallsyms_lookup_name(\"no_such_symbol_pk\") = %lu\n", lookup("no_such_symbol_pk"));
	unregister_kprobe(&kp);
	return 0;
}

static DEFINE_STATIC_KEY_FALSE(pk_false);
static DEFINE_STATIC_KEY_TRUE(pk_true);

static void show_keys(const char *when)
{
	const char *f = "false branch", *t = "false branch";

	if (static_branch_unlikely(&pk_false))
		f = "true branch";
	if (static_branch_likely(&pk_true))
		t = "true branch";
	pr_info("%s: unlikely(pk_false) takes the %s (enabled=%d), likely(pk_true) takes the %s (enabled=%d)\n",
		when, f, static_key_enabled(&pk_false), t, static_key_enabled(&pk_true));
}

static int case_statickey(void)
{
	show_keys("initially");
	static_branch_enable(&pk_false);
	static_branch_disable(&pk_true);
	show_keys("after enable(pk_false), disable(pk_true)");
	static_branch_disable(&pk_false);
	static_branch_enable(&pk_true);
	show_keys("after disable(pk_false), enable(pk_true)");
	return 0;
}

static DECLARE_COMPLETION(pk_started);
static struct task_struct *pk_thread;

static int pk_thread_fn(void *data)
{
	pr_info("thread runs\n");
	complete(&pk_started);
	while (!kthread_should_stop())
		msleep(10);
	pr_info("thread stops\n");
	return 7;
}

static int case_kthread(void)
{
	pk_thread = kthread_run(pk_thread_fn, NULL, "pk-outcomes");
	if (IS_ERR(pk_thread)) {
		pr_info("kthread_run = %ld\n", PTR_ERR(pk_thread));
		return PTR_ERR(pk_thread);
	}
	pr_info("init waits\n");
	wait_for_completion(&pk_started);
	pr_info("init resumes\n");
	loaded = KTHREAD;
	return 0;
}

static void pk_tasklet_fn(struct tasklet_struct *t)
{
	pr_info("tasklet runs\n");
}
static DECLARE_TASKLET(pk_tasklet, pk_tasklet_fn);

static int case_tasklet(void)
{
	tasklet_schedule(&pk_tasklet);
	pr_info("before mdelay\n");
	mdelay(50);
	pr_info("after mdelay\n");
	loaded = TASKLET;
	return 0;
}

static int case_tty(void)
{
	struct tty_struct *tty = get_current_tty();

	if (!tty) {
		pr_info("get_current_tty() = NULL\n");
		return 0;
	}
	pr_info("get_current_tty() = %s\n", tty_name(tty));
	tty_kref_put(tty);
	return 0;
}

static void hash_abc(const char *alg)
{
	struct crypto_shash *tfm = crypto_alloc_shash(alg, 0, 0);
	u8 out[64];
	int ret;

	if (IS_ERR(tfm)) {
		pr_info("crypto_alloc_shash(%s) = %ld\n", alg, PTR_ERR(tfm));
		return;
	}
	ret = crypto_shash_tfm_digest(tfm, "abc", 3, out);
	if (ret)
		pr_info("%s(\"abc\"): digest = %d\n", alg, ret);
	else
		pr_info("%s(\"abc\") = %*phN\n", alg, crypto_shash_digestsize(tfm), out);
	crypto_free_shash(tfm);
}

static int case_hash(void)
{
	hash_abc("sha256");
	hash_abc("sha1");
	hash_abc("md5");
	hash_abc("crc32c");
	return 0;
}

static int case_dyndbg(void)
{
	pr_debug("debug line %d\n", 1);
	pr_info("info line\n");
	return 0;
}

static int case_dma(void)
{
	struct platform_device *pdev;
	dma_addr_t handle = 0;
	void *cpu;
	int ret;

	pdev = platform_device_register_simple("pk-outcomes", -1, NULL, 0);
	if (IS_ERR(pdev)) {
		pr_info("platform_device_register_simple = %ld\n", PTR_ERR(pdev));
		return PTR_ERR(pdev);
	}
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
	pr_info("dma_set_mask_and_coherent(32 bits) = %d\n", ret);
	cpu = dma_alloc_coherent(&pdev->dev, PAGE_SIZE, &handle, GFP_KERNEL);
	pr_info("dma_alloc_coherent: cpu %s, handle %s, below 4G %d, handle == virt_to_phys(cpu) %d\n",
		cpu ? "not NULL" : "NULL", handle ? "not 0" : "0", handle < (1ULL << 32),
		cpu && handle == virt_to_phys(cpu));
	if (cpu)
		dma_free_coherent(&pdev->dev, PAGE_SIZE, cpu, handle);
	platform_device_unregister(pdev);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(void);
} cases[] = {
	{ "gpio", case_gpio },
	{ "kprobe", case_kprobe },
	{ "statickey", case_statickey },
	{ "kthread", case_kthread },
	{ "tasklet", case_tasklet },
	{ "tty", case_tty },
	{ "sha256", case_hash },
	{ "dyndbg", case_dyndbg },
	{ "dma", case_dma },
};

static int __init outcomes_init(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (!strcmp(pk_case, cases[i].name)) {
			pr_info("case %s\n", pk_case);
			return cases[i].run();
		}
	pr_info("no case \"%s\"\n", pk_case);
	return -EINVAL;
}

static void __exit outcomes_exit(void)
{
	switch (loaded) {
	case KTHREAD:
		pr_info("kthread_stop = %d\n", kthread_stop(pk_thread));
		break;
	case TASKLET:
		tasklet_kill(&pk_tasklet);
		pr_info("tasklet killed\n");
		break;
	case NONE:
		break;
	}
	pr_info("exit\n");
}

module_init(outcomes_init);
module_exit(outcomes_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kernel functions whose answers decide what a driver does, one case per load");
