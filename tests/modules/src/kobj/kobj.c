// SPDX-License-Identifier: GPL-2.0
/*
 * The kobj fixture: every way a module puts its own files in sysfs and debugfs, each answered
 * by the module's show/store or file operations.
 *
 *  - /sys/kernel/pkkobj: a kobject with an attribute group of kobj_attributes: "value" (rw, an
 *    int), "ro" (read only, counts its reads), "mode" (is_visible narrows it to 0400) and
 *    "hidden" (is_visible hides it);
 *  - class "pkattr" with a class_attribute "version" and a device "pkattr0" (no dev_t) created
 *    with a group holding the device_attribute "count" (rw);
 *  - platform driver "pkplat" with a driver_attribute "info", and a device "pkplat" that binds
 *    to it (probe and remove log);
 *  - /sys/kernel/debug/pkdbg: debugfs_create_{u8,u16,u32,u64,x8,x16,x32,x64,bool,size_t,
 *    atomic_t,blob} and a file with its own read/write.
 */
#define pr_fmt(fmt) "kobj: " fmt

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

/* ---------------------------------------------------------------- /sys/kernel/pkkobj */

static struct kobject *pkkobj;
static int kvalue = 5;
static int ro_reads;

static ssize_t value_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", kvalue);
}

static ssize_t value_store(struct kobject *kobj, struct kobj_attribute *attr, const char *buf,
			   size_t count)
{
	int err = kstrtoint(buf, 0, &kvalue);

	if (err)
		return err;
	pr_info("value set to %d\n", kvalue);
	return count;
}

static ssize_t ro_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "read %d of %s/%s\n", ++ro_reads, kobject_name(kobj), attr->attr.name);
}

static ssize_t mode_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "declared 0644, shown 0400\n");
}

static ssize_t hidden_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "never seen\n");
}

static struct kobj_attribute value_attr = __ATTR_RW(value);
static struct kobj_attribute ro_attr = __ATTR_RO(ro);
static struct kobj_attribute mode_attr = __ATTR(mode, 0644, mode_show, NULL);
static struct kobj_attribute hidden_attr = __ATTR_RO(hidden);

static struct attribute *pkkobj_attrs[] = {
	&value_attr.attr,
	&ro_attr.attr,
	&mode_attr.attr,
	&hidden_attr.attr,
	NULL,
};

static umode_t pkkobj_visible(struct kobject *kobj, struct attribute *attr, int n)
{
	if (attr == &hidden_attr.attr)
		return 0;
	if (attr == &mode_attr.attr)
		return 0400;
	return attr->mode;
}

static const struct attribute_group pkkobj_group = {
	.attrs = pkkobj_attrs,
	.is_visible = pkkobj_visible,
};

/* ---------------------------------------------------------------- class pkattr */

static struct class *pkattr_class;
static struct device *pkattr_dev;
static int dev_count = 3;

static ssize_t version_show(PK_CLASS_CONST struct class *class, PK_CLASS_CONST struct class_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s 1.2\n", class->name);
}

static CLASS_ATTR_RO(version);

static ssize_t count_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	int *count = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", *count);
}

static ssize_t count_store(struct device *dev, struct device_attribute *attr, const char *buf,
			   size_t len)
{
	int *count = dev_get_drvdata(dev);
	int err = kstrtoint(buf, 10, count);

	if (err)
		return err;
	dev_info(dev, "count set to %d\n", *count);
	return len;
}

static DEVICE_ATTR_RW(count);

static struct attribute *pkattr_dev_attrs[] = {
	&dev_attr_count.attr,
	NULL,
};
ATTRIBUTE_GROUPS(pkattr_dev);

/* ---------------------------------------------------------------- platform driver pkplat */

static struct platform_device *pkplat_dev;

static int pkplat_probe(struct platform_device *pdev)
{
	dev_info(&pdev->dev, "probe, id %d\n", pdev->id);
	return 0;
}

static PK_REMOVE_T pkplat_remove(struct platform_device *pdev)
{
	dev_info(&pdev->dev, "remove\n");
	return PK_REMOVE_RET;
}

static struct platform_driver pkplat_driver = {
	.probe = pkplat_probe,
	.remove = pkplat_remove,
	.driver = {
		.name = "pkplat",
	},
};

static ssize_t info_show(struct device_driver *drv, char *buf)
{
	return sysfs_emit(buf, "driver %s on bus %s\n", drv->name, drv->bus->name);
}

static DRIVER_ATTR_RO(info);

/* ---------------------------------------------------------------- debugfs pkdbg */

static struct dentry *pkdbg;
static u8 d_u8 = 200;
static u16 d_u16 = 60000;
static u32 d_u32 = 4000000000U;
static u64 d_u64 = 18000000000000000000ULL;
static u8 d_x8 = 0xab;
static u16 d_x16 = 0xbeef;
static u32 d_x32 = 0xdeadbeef;
static u64 d_x64 = 0x0123456789abcdefULL;
static bool d_bool = true;
static size_t d_size = 12345;
static atomic_t d_atomic = ATOMIC_INIT(-3);
static char blob_text[] = "blob contents\n";
static struct debugfs_blob_wrapper blob = { .data = blob_text, .size = sizeof(blob_text) - 1 };
static char msg[64] = "hello from debugfs\n";
static size_t msg_len = 19;

static ssize_t msg_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	return simple_read_from_buffer(ubuf, count, ppos, msg, msg_len);
}

static ssize_t msg_write(struct file *file, const char __user *ubuf, size_t count, loff_t *ppos)
{
	ssize_t ret;

	if (count > sizeof(msg))
		return -ENOSPC;
	ret = simple_write_to_buffer(msg, sizeof(msg), ppos, ubuf, count);
	if (ret > 0) {
		msg_len = *ppos;
		pr_info("msg: %zd bytes written\n", ret);
	}
	return ret;
}

static const struct file_operations msg_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = msg_read,
	.write = msg_write,
	.llseek = default_llseek,
};

static void pkdbg_create(void)
{
	pkdbg = debugfs_create_dir("pkdbg", NULL);
	debugfs_create_u8("u8", 0644, pkdbg, &d_u8);
	debugfs_create_u16("u16", 0644, pkdbg, &d_u16);
	debugfs_create_u32("u32", 0644, pkdbg, &d_u32);
	debugfs_create_u64("u64", 0644, pkdbg, &d_u64);
	debugfs_create_x8("x8", 0644, pkdbg, &d_x8);
	debugfs_create_x16("x16", 0644, pkdbg, &d_x16);
	debugfs_create_x32("x32", 0644, pkdbg, &d_x32);
	debugfs_create_x64("x64", 0644, pkdbg, &d_x64);
	debugfs_create_bool("bool", 0644, pkdbg, &d_bool);
	debugfs_create_size_t("size_t", 0644, pkdbg, &d_size);
	debugfs_create_atomic_t("atomic_t", 0644, pkdbg, &d_atomic);
	debugfs_create_u32("u32_ro", 0444, pkdbg, &d_u32);
	debugfs_create_blob("blob", 0444, pkdbg, &blob);
	debugfs_create_file("msg", 0600, pkdbg, NULL, &msg_fops);
}

/* ---------------------------------------------------------------- init and exit */

static int __init kobj_init(void)
{
	int err;

	pkkobj = kobject_create_and_add("pkkobj", kernel_kobj);
	if (!pkkobj)
		return -ENOMEM;
	err = sysfs_create_group(pkkobj, &pkkobj_group);
	if (err)
		goto out_kobj;

	pkattr_class = class_create(THIS_MODULE, "pkattr");
	if (IS_ERR(pkattr_class)) {
		err = PTR_ERR(pkattr_class);
		goto out_group;
	}
	err = class_create_file(pkattr_class, &class_attr_version);
	if (err)
		goto out_class;
	pkattr_dev = device_create_with_groups(pkattr_class, NULL, 0, &dev_count, pkattr_dev_groups,
					       "pkattr%d", 0);
	if (IS_ERR(pkattr_dev)) {
		err = PTR_ERR(pkattr_dev);
		goto out_version;
	}

	err = platform_driver_register(&pkplat_driver);
	if (err)
		goto out_dev;
	err = driver_create_file(&pkplat_driver.driver, &driver_attr_info);
	if (err)
		goto out_driver;
	pkplat_dev = platform_device_register_simple("pkplat", -1, NULL, 0);
	if (IS_ERR(pkplat_dev)) {
		err = PTR_ERR(pkplat_dev);
		goto out_info;
	}

	pkdbg_create();
	pr_info("ready\n");
	return 0;

out_info:
	driver_remove_file(&pkplat_driver.driver, &driver_attr_info);
out_driver:
	platform_driver_unregister(&pkplat_driver);
out_dev:
	device_unregister(pkattr_dev);
out_version:
	class_remove_file(pkattr_class, &class_attr_version);
out_class:
	class_destroy(pkattr_class);
out_group:
	sysfs_remove_group(pkkobj, &pkkobj_group);
out_kobj:
	kobject_put(pkkobj);
	return err;
}

static void __exit kobj_exit(void)
{
	debugfs_remove_recursive(pkdbg);
	platform_device_unregister(pkplat_dev);
	driver_remove_file(&pkplat_driver.driver, &driver_attr_info);
	platform_driver_unregister(&pkplat_driver);
	device_unregister(pkattr_dev);
	class_remove_file(pkattr_class, &class_attr_version);
	class_destroy(pkattr_class);
	sysfs_remove_group(pkkobj, &pkkobj_group);
	kobject_put(pkkobj);
	pr_info("gone: value %d, count %d, u8 %u, bool %d\n", kvalue, dev_count, d_u8, d_bool);
}

module_init(kobj_init);
module_exit(kobj_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sysfs attributes, a class, a platform driver and debugfs files of a module");
MODULE_AUTHOR("pseudokernel fixtures");
