/* Included before the source by Kbuild (-include): against 6.1 it changes nothing; against later
 * kernels it bridges the API changes the source meets. */
#include <linux/version.h>
/* 6.9: blk_mq_alloc_disk() takes the queue limits (NULL: the defaults) before the queue data */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
#include <linux/blk-mq.h>
#undef blk_mq_alloc_disk
#define blk_mq_alloc_disk(set, queuedata)				\
({									\
	static struct lock_class_key __key;				\
									\
	__blk_mq_alloc_disk(set, NULL, queuedata, &__key);		\
})
#endif
