// SPDX-License-Identifier: GPL-2.0
/*
 * The outcomes fixture: kernel functions whose answer decides what a driver does next, one case
 * per load, chosen by the "case" parameter (init prints every answer and returns 0 unless the
 * case says otherwise):
 *
 *  - gpio: the legacy GPIO calls with no controller present (gpio_request's error is init's),
 *    gpiod_get/gpiod_get_optional for a platform device with no GPIO mapping, and
 *    gpio_request of 575 and 2000 (gpio_is_valid's bound: CONFIG_ARCH_NR_GPIO on 6.1, none later);
 *  - kprobe: kallsyms_lookup_name found through a kprobe on it, then called;
 *  - statickey: static_branch_{unlikely,likely} before and after enable/disable;
 *  - kthread: a thread init starts and waits for (wait_for_completion), stopped at exit;
 *  - tasklet: a tasklet scheduled before an mdelay, killed at exit;
 *  - kthread_exit: a thread that ends on its own with kthread_complete_and_exit, never stopped;
 *  - tty: get_current_tty() of the insmod process, and the foreground console vc_cons[fg_console];
 *  - sha256: crypto_alloc_shash + digest of "abc" for sha256, sha1, md5 and crc32c;
 *  - dyndbg: a pr_debug beside a pr_info (load it with and without dyndbg=+p);
 *  - dma: dma_alloc_coherent for a platform device with a 32-bit DMA mask;
 *  - devres: a platform driver whose probe takes managed resources (devm_kzalloc,
 *    dmam_alloc_coherent, devm_add_action), released when exit unregisters the device;
 *  - devres_fail: the same driver's probe taking one devm_kzalloc and failing with -ENOMEM.
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
#include <linux/kd.h>
#include <linux/console_struct.h>
#include <linux/version.h>
#include <linux/vt_kern.h>

static char *pk_case = "";
module_param_named(case, pk_case, charp, 0444);
MODULE_PARM_DESC(case, "what init does: gpio, kprobe, statickey, kthread, kthread_exit, tasklet, tty, sha256, dyndbg, dma, devres, devres_fail or bus");

/* the case init ran, for exit to undo */
static enum { NONE, KTHREAD, TASKLET, DEVRES, BUS } loaded;

static int case_gpio(void)
{
	struct platform_device *pdev;
	struct gpio_desc *desc;
	int req, one, irq, big, huge;

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

	big = gpio_request(575, "pk");
	pr_info("gpio_is_valid(575) = %d, gpio_request(575) = %d\n", gpio_is_valid(575), big);
	if (big == 0)
		gpio_free(575);
	huge = gpio_request(2000, "pk");
	pr_info("gpio_is_valid(2000) = %d, gpio_request(2000) = %d\n", gpio_is_valid(2000), huge);
	if (huge == 0)
		gpio_free(2000);

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

static DECLARE_COMPLETION(pk_done);

static int pk_exiting_fn(void *data)
{
	pr_info("thread runs and ends on its own\n");
	kthread_complete_and_exit(&pk_done, 0);
}

static int case_kthread_exit(void)
{
	struct task_struct *t = kthread_run(pk_exiting_fn, NULL, "pk-outcomes-exit");

	if (IS_ERR(t)) {
		pr_info("kthread_run = %ld\n", PTR_ERR(t));
		return PTR_ERR(t);
	}
	pr_info("init waits\n");
	wait_for_completion(&pk_done);
	pr_info("init resumes\n");
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

static int show_current_tty(void)
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

static int case_tty(void)
{
	struct vc_data *vc;

	show_current_tty();
	vc = vc_cons[fg_console].d;
	pr_info("fg_console %d, vc_cons[fg_console].d is %s\n", fg_console, vc ? "not NULL" : "NULL");
	if (vc)
		pr_info("vc_num %u, %ux%u\n", vc->vc_num, vc->vc_cols, vc->vc_rows);
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

struct pk_priv {
	int probes;
	char *buf;
	void *cpu;
	dma_addr_t handle;
};

static bool pk_fail_probe;
static struct platform_device *pk_devres_pdev;

static void pk_action(void *data)
{
	struct pk_priv *priv = data;

	pr_info("devres action ran\n");
	pr_info("action sees buf[4095] = %#x\n", priv->buf[4095] & 0xff);
}

static int pk_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct pk_priv *priv;
	int ret;

	pr_info("probe %s\n", dev_name(dev));
	priv = devm_kzalloc(dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;
	if (pk_fail_probe) {
		pr_info("probe fails with -ENOMEM after devm_kzalloc\n");
		return -ENOMEM;
	}
	priv->buf = devm_kzalloc(dev, 4096, GFP_KERNEL);
	if (!priv->buf)
		return -ENOMEM;
	memset(priv->buf, 0x5a, 4096);
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32));
	pr_info("dma_set_mask_and_coherent(32 bits) = %d\n", ret);
	priv->cpu = dmam_alloc_coherent(dev, 4096, &priv->handle, GFP_KERNEL);
	if (!priv->cpu)
		return -ENOMEM;
	dev_info(dev, "dmam_alloc_coherent: handle %pad, == virt_to_phys(cpu) %d\n", &priv->handle,
		 priv->handle == virt_to_phys(priv->cpu));
	ret = devm_add_action(dev, pk_action, priv);
	pr_info("devm_add_action = %d\n", ret);
	if (ret)
		return ret;
	platform_set_drvdata(pdev, priv);
	return 0;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static void pk_remove(struct platform_device *pdev)
{
	pr_info("remove %s\n", dev_name(&pdev->dev));
}
#else
static int pk_remove(struct platform_device *pdev)
{
	pr_info("remove %s\n", dev_name(&pdev->dev));
	return 0;
}
#endif

static struct platform_driver pk_driver = {
	.probe = pk_probe,
	.remove = pk_remove,
	.driver = { .name = "pk-outcomes" },
};

static int devres_run(bool fail)
{
	int ret;

	pk_fail_probe = fail;
	ret = platform_driver_register(&pk_driver);
	pr_info("platform_driver_register = %d\n", ret);
	if (ret)
		return ret;
	pk_devres_pdev = platform_device_register_simple("pk-outcomes", -1, NULL, 0);
	if (IS_ERR(pk_devres_pdev)) {
		pr_info("platform_device_register_simple = %ld\n", PTR_ERR(pk_devres_pdev));
		platform_driver_unregister(&pk_driver);
		return PTR_ERR(pk_devres_pdev);
	}
	pr_info("device registered, driver bound: %d\n", platform_get_drvdata(pk_devres_pdev) != NULL);
	loaded = DEVRES;
	return 0;
}

static int case_devres(void)
{
	return devres_run(false);
}

static int case_devres_fail(void)
{
	return devres_run(true);
}

/* bus: a bus of the module's own, with an attribute in its bus_groups and one by bus_create_file() */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define PK_BUS_CONST const
#else
#define PK_BUS_CONST
#endif

static ssize_t version_show(PK_BUS_CONST struct bus_type *bus, char *buf)
{
	return sysfs_emit(buf, "pkbus 1.0\n");
}
static BUS_ATTR_RO(version);

static ssize_t answer_show(PK_BUS_CONST struct bus_type *bus, char *buf)
{
	return sysfs_emit(buf, "%d\n", 42);
}
static BUS_ATTR_RO(answer);

static struct attribute *pkbus_attrs[] = { &bus_attr_answer.attr, NULL };
ATTRIBUTE_GROUPS(pkbus);

static struct bus_type pk_bus = {
	.name = "pkbus",
	.bus_groups = pkbus_groups,
};

static int case_bus(void)
{
	int ret = bus_register(&pk_bus);

	pr_info("bus_register = %d\n", ret);
	if (ret)
		return ret;
	ret = bus_create_file(&pk_bus, &bus_attr_version);
	pr_info("bus_create_file = %d\n", ret);
	loaded = BUS;
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
	{ "kthread_exit", case_kthread_exit },
	{ "tasklet", case_tasklet },
	{ "tty", case_tty },
	{ "sha256", case_hash },
	{ "dyndbg", case_dyndbg },
	{ "dma", case_dma },
	{ "devres", case_devres },
	{ "devres_fail", case_devres_fail },
	{ "bus", case_bus },
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
	case DEVRES:
		pr_info("unregistering the device\n");
		platform_device_unregister(pk_devres_pdev);
		pr_info("unregistering the driver\n");
		platform_driver_unregister(&pk_driver);
		break;
	case BUS:
		bus_remove_file(&pk_bus, &bus_attr_version);
		bus_unregister(&pk_bus);
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
