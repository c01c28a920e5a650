// SPDX-License-Identifier: GPL-2.0
/*
 * The busdev fixture: devices of a module's own bus, as LDD3's lddbus makes them. A root
 * device "pkroot" with no bus, class or parent (it lives in /sys/devices/pkroot) carries an
 * attribute "info"; "pkdev0" sits on the bus "pkdbus" under it (/sys/devices/pkroot/pkdev0,
 * linked from /sys/bus/pkdbus/devices), and the bus's uevent callback adds a variable to its
 * uevent. No driver is registered: nothing binds.
 */
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/version.h>

/* the callbacks' arguments became const in 6.2 (uevent) and 6.11 (match's driver) */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
static int pkd_uevent(const struct device *dev, struct kobj_uevent_env *env)
#else
static int pkd_uevent(struct device *dev, struct kobj_uevent_env *env)
#endif
{
	return add_uevent_var(env, "PKDBUS_DEVICE=%s", dev_name(dev));
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static int pkd_match(struct device *dev, const struct device_driver *drv)
#else
static int pkd_match(struct device *dev, struct device_driver *drv)
#endif
{
	return 0;
}

static struct bus_type pkd_bus = {
	.name = "pkdbus",
	.match = pkd_match,
	.uevent = pkd_uevent,
};

static void pkd_release(struct device *dev)
{
}

static struct device pkroot = {
	.init_name = "pkroot",
	.release = pkd_release,
};

static struct device pkdev = {
	.release = pkd_release,
};

static ssize_t info_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s on %s\n", dev_name(dev), dev->bus ? dev->bus->name : "no bus");
}
static DEVICE_ATTR_RO(info);

static int __init busdev_init(void)
{
	int err = bus_register(&pkd_bus);

	if (err)
		return err;
	err = device_register(&pkroot);
	if (err)
		goto no_root;
	err = device_create_file(&pkroot, &dev_attr_info);
	if (err)
		goto no_file;
	pkdev.bus = &pkd_bus;
	pkdev.parent = &pkroot;
	dev_set_name(&pkdev, "pkdev%d", 0);
	err = device_register(&pkdev);
	if (err)
		goto no_dev;
	err = device_create_file(&pkdev, &dev_attr_info);
	if (err)
		goto no_dev_file;
	return 0;
no_dev_file:
	device_unregister(&pkdev);
no_dev:
	put_device(&pkdev);
	device_remove_file(&pkroot, &dev_attr_info);
no_file:
	device_unregister(&pkroot);
no_root:
	bus_unregister(&pkd_bus);
	return err;
}

static void __exit busdev_exit(void)
{
	device_remove_file(&pkdev, &dev_attr_info);
	device_unregister(&pkdev);
	device_remove_file(&pkroot, &dev_attr_info);
	device_unregister(&pkroot);
	bus_unregister(&pkd_bus);
}

module_init(busdev_init);
module_exit(busdev_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("devices of a module's own bus, in /sys/devices");
MODULE_AUTHOR("pseudokernel fixtures");
