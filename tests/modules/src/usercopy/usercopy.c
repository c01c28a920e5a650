// SPDX-License-Identifier: GPL-2.0
/*
 * The usercopy fixture: /dev/pk_usercopy copies between the caller and two heap objects the
 * way hardened usercopy (CONFIG_HARDENED_USERCOPY, mm/usercopy.c) checks every copy whose
 * size is not known at build time:
 *  - a write of N bytes at offset P goes into an object of the slab cache "pk_usercopy"
 *    (24 bytes, made with kmem_cache_create_usercopy: only bytes 8..15 may be copied from or to
 *    user space), at P; a write outside bytes 8..15 is the kernel's BUG;
 *  - a read of N bytes at offset P comes from kmalloc(20) (a kmalloc-32 object: all 32 bytes
 *    may be copied), at P; a read past byte 32 is the kernel's BUG.
 * Nothing else is checked: the size and offset are the caller's, up to 64 bytes.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#define UC_MAX 64

static struct kmem_cache *uc_cache;
static char *uc_obj;
static char *uc_buf;

static ssize_t uc_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	size_t n = min_t(size_t, len, UC_MAX);

	pr_info("pk_usercopy: write %zu at %lld\n", n, *ppos);
	if (copy_from_user(uc_obj + *ppos, buf, n))
		return -EFAULT;
	*ppos += n;
	return n;
}

static ssize_t uc_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	size_t n = min_t(size_t, len, UC_MAX);

	pr_info("pk_usercopy: read %zu at %lld\n", n, *ppos);
	if (copy_to_user(buf, uc_buf + *ppos, n))
		return -EFAULT;
	*ppos += n;
	return n;
}

static const struct file_operations uc_fops = {
	.owner = THIS_MODULE,
	.read = uc_read,
	.write = uc_write,
	.llseek = default_llseek,
};

static struct miscdevice uc_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pk_usercopy",
	.fops = &uc_fops,
};

static int __init uc_init(void)
{
	int err;

	uc_cache = kmem_cache_create_usercopy("pk_usercopy", 24, 0, 0, 8, 8, NULL);
	if (!uc_cache)
		return -ENOMEM;
	uc_obj = kmem_cache_zalloc(uc_cache, GFP_KERNEL);
	uc_buf = kmalloc(20, GFP_KERNEL);
	if (!uc_obj || !uc_buf) {
		err = -ENOMEM;
		goto fail;
	}
	memcpy(uc_buf, "0123456789abcdefghij", 20);
	err = misc_register(&uc_dev);
	if (err)
		goto fail;
	return 0;
fail:
	kfree(uc_buf);
	if (uc_obj)
		kmem_cache_free(uc_cache, uc_obj);
	kmem_cache_destroy(uc_cache);
	return err;
}

static void __exit uc_exit(void)
{
	misc_deregister(&uc_dev);
	kfree(uc_buf);
	kmem_cache_free(uc_cache, uc_obj);
	kmem_cache_destroy(uc_cache);
}

module_init(uc_init);
module_exit(uc_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("copies to and from user space that hardened usercopy checks");
MODULE_AUTHOR("pseudokernel fixtures");
