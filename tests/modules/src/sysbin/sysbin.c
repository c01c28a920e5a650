// SPDX-License-Identifier: GPL-2.0
/*
 * sysbin: binary sysfs attributes and links, as firmware-style drivers expose a blob: a
 * kobject /sys/kernel/pk_bin with a 64-byte read-write "blob" (sysfs_create_bin_file), a
 * 16-byte read-only "id" and a write-only "cmd" in an attribute group's bin_attrs, and a link
 * "peer" to a second kobject, /sys/kernel/pk_peer (sysfs_create_link). Each read and write
 * logs its offset and count, so the pieces kernfs cuts a transfer into are visible.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kobject.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/sysfs.h>

static struct kobject *bin_kobj, *peer_kobj;
static char blob[64];
static const char id[16] = "pk-sysbin-0001\n";

static ssize_t blob_read(struct file *f, struct kobject *kobj, struct bin_attribute *attr,
			 char *buf, loff_t off, size_t count)
{
	pr_info("blob read off %lld count %zu\n", off, count);
	memcpy(buf, blob + off, count);
	return count;
}

static ssize_t blob_write(struct file *f, struct kobject *kobj, struct bin_attribute *attr,
			  char *buf, loff_t off, size_t count)
{
	pr_info("blob write off %lld count %zu\n", off, count);
	memcpy(blob + off, buf, count);
	return count;
}

static ssize_t id_read(struct file *f, struct kobject *kobj, struct bin_attribute *attr,
		       char *buf, loff_t off, size_t count)
{
	memcpy(buf, id + off, count);
	return count;
}

static ssize_t cmd_write(struct file *f, struct kobject *kobj, struct bin_attribute *attr,
			 char *buf, loff_t off, size_t count)
{
	pr_info("cmd %zu bytes at %lld: %*pE\n", count, off, (int)count, buf);
	return count;
}

static BIN_ATTR_RW(blob, sizeof(blob));
static BIN_ATTR_RO(id, sizeof(id));
static BIN_ATTR_WO(cmd, 0);

static struct bin_attribute *group_bin_attrs[] = { &bin_attr_id, &bin_attr_cmd, NULL };
static const struct attribute_group group = { .bin_attrs = group_bin_attrs };

static int __init sysbin_init(void)
{
	int ret;

	memcpy(blob, "pk-blob:", 8);
	bin_kobj = kobject_create_and_add("pk_bin", kernel_kobj);
	if (!bin_kobj)
		return -ENOMEM;
	peer_kobj = kobject_create_and_add("pk_peer", kernel_kobj);
	if (!peer_kobj) {
		ret = -ENOMEM;
		goto put_bin;
	}
	ret = sysfs_create_bin_file(bin_kobj, &bin_attr_blob);
	if (ret)
		goto put_peer;
	ret = sysfs_create_group(bin_kobj, &group);
	if (ret)
		goto remove_blob;
	ret = sysfs_create_link(bin_kobj, peer_kobj, "peer");
	if (ret)
		goto remove_group;
	pr_info("loaded\n");
	return 0;
remove_group:
	sysfs_remove_group(bin_kobj, &group);
remove_blob:
	sysfs_remove_bin_file(bin_kobj, &bin_attr_blob);
put_peer:
	kobject_put(peer_kobj);
put_bin:
	kobject_put(bin_kobj);
	return ret;
}

static void __exit sysbin_exit(void)
{
	sysfs_remove_link(bin_kobj, "peer");
	sysfs_remove_group(bin_kobj, &group);
	sysfs_remove_bin_file(bin_kobj, &bin_attr_blob);
	kobject_put(peer_kobj);
	kobject_put(bin_kobj);
	pr_info("unloaded\n");
}

module_init(sysbin_init);
module_exit(sysbin_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("binary sysfs attributes and a sysfs link");
