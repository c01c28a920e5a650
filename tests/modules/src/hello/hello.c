// SPDX-License-Identifier: GPL-2.0
/* The hello fixture: parameters, kmalloc in init, kfree in exit. */
#include <linux/module.h>
#include <linux/slab.h>

static int count = 1;
module_param(count, int, 0644);
MODULE_PARM_DESC(count, "how many greetings to print");

static char *who = "world";
module_param(who, charp, 0444);
MODULE_PARM_DESC(who, "whom to greet");

static char *buf;

static int __init hello_init(void)
{
	int i;

	buf = kmalloc(64, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	snprintf(buf, 64, "%s", who);
	for (i = 0; i < count; i++)
		pr_info("hello: hello %s (%d of %d)\n", buf, i + 1, count);
	return 0;
}

static void __exit hello_exit(void)
{
	pr_info("hello: goodbye %s\n", buf);
	kfree(buf);
}

module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("pseudokernel fixtures");
MODULE_DESCRIPTION("prints a greeting per count");
MODULE_VERSION("1.0");
