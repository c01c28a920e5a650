// SPDX-License-Identifier: GPL-2.0
/*
 * The ramdisk fixture: the textbook blk-mq RAM disk. A vmalloc'd buffer of size_kb KiB is the
 * disk /dev/pkram0 (a dynamic block major, 16 minors so that add_disk() scans for partitions);
 * queue_rq copies each segment of a request between the bio_vec pages and the buffer, and logs
 * the request, so that dmesg shows every read and write the kernel made (the partition scan's
 * too). getgeo answers HDIO_GETGEO.
 */
#define pr_fmt(fmt) "ramdisk: " fmt

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/hdreg.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/vmalloc.h>

#define PKRAM_MINORS 16

static unsigned long size_kb = 1024;
module_param(size_kb, ulong, 0444);
MODULE_PARM_DESC(size_kb, "size of the disk in KiB");

struct pkram {
	u8 *data;
	sector_t sectors;
	unsigned long reads, writes;
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;
};

static int pkram_major;
static struct pkram pkram;

static blk_status_t pkram_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct pkram *dev = rq->q->queuedata;
	loff_t pos = (loff_t)blk_rq_pos(rq) << SECTOR_SHIFT;
	bool write = rq_data_dir(rq) == WRITE;
	struct req_iterator iter;
	struct bio_vec bvec;
	blk_status_t status = BLK_STS_OK;

	blk_mq_start_request(rq);
	if (req_op(rq) != REQ_OP_READ && req_op(rq) != REQ_OP_WRITE) {
		pr_info("op %u refused\n", req_op(rq));
		status = BLK_STS_IOERR;
		goto out;
	}
	if (blk_rq_pos(rq) + blk_rq_sectors(rq) > dev->sectors) {
		pr_info("%s of sector %llu beyond the end\n", write ? "write" : "read",
			(unsigned long long)blk_rq_pos(rq));
		status = BLK_STS_IOERR;
		goto out;
	}
	pr_info("%s sector %llu, %u bytes\n", write ? "write" : "read",
		(unsigned long long)blk_rq_pos(rq), blk_rq_bytes(rq));
	rq_for_each_segment(bvec, rq, iter) {
		u8 *buf = kmap_local_page(bvec.bv_page);

		if (write)
			memcpy(dev->data + pos, buf + bvec.bv_offset, bvec.bv_len);
		else
			memcpy(buf + bvec.bv_offset, dev->data + pos, bvec.bv_len);
		kunmap_local(buf);
		pos += bvec.bv_len;
	}
	if (write)
		dev->writes++;
	else
		dev->reads++;
out:
	blk_mq_end_request(rq, status);
	return BLK_STS_OK;
}

static const struct blk_mq_ops pkram_mq_ops = {
	.queue_rq = pkram_queue_rq,
};

static int pkram_getgeo(struct block_device *bdev, struct hd_geometry *geo)
{
	struct pkram *dev = bdev->bd_disk->private_data;

	geo->heads = 4;
	geo->sectors = 16;
	geo->cylinders = dev->sectors / (4 * 16);
	geo->start = 0;
	return 0;
}

static const struct block_device_operations pkram_fops = {
	.owner = THIS_MODULE,
	.getgeo = pkram_getgeo,
};

static int __init ramdisk_init(void)
{
	struct gendisk *disk;
	int err;

	pkram.sectors = (sector_t)size_kb * 2;
	pkram.data = vzalloc(size_kb * 1024);
	if (!pkram.data)
		return -ENOMEM;

	pkram_major = register_blkdev(0, "pkram");
	if (pkram_major < 0) {
		err = pkram_major;
		goto out_free;
	}
	pr_info("major %d\n", pkram_major);

	pkram.tag_set.ops = &pkram_mq_ops;
	pkram.tag_set.nr_hw_queues = 1;
	pkram.tag_set.queue_depth = 16;
	pkram.tag_set.numa_node = NUMA_NO_NODE;
	pkram.tag_set.flags = BLK_MQ_F_SHOULD_MERGE;
	err = blk_mq_alloc_tag_set(&pkram.tag_set);
	if (err) {
		pr_info("blk_mq_alloc_tag_set: %d\n", err);
		goto out_major;
	}

	disk = blk_mq_alloc_disk(&pkram.tag_set, &pkram);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		pr_info("blk_mq_alloc_disk: %d\n", err);
		goto out_tags;
	}
	pkram.disk = disk;
	disk->major = pkram_major;
	disk->first_minor = 0;
	disk->minors = PKRAM_MINORS;
	disk->fops = &pkram_fops;
	disk->private_data = &pkram;
	snprintf(disk->disk_name, DISK_NAME_LEN, "pkram%d", 0);
	set_capacity(disk, pkram.sectors);

	err = add_disk(disk);
	if (err) {
		pr_info("add_disk: %d\n", err);
		goto out_disk;
	}
	pr_info("%s: %llu sectors (%lu KiB)\n", disk->disk_name, (unsigned long long)get_capacity(disk),
		size_kb);
	return 0;

out_disk:
	put_disk(disk);
out_tags:
	blk_mq_free_tag_set(&pkram.tag_set);
out_major:
	unregister_blkdev(pkram_major, "pkram");
out_free:
	vfree(pkram.data);
	return err;
}

static void __exit ramdisk_exit(void)
{
	del_gendisk(pkram.disk);
	put_disk(pkram.disk);
	blk_mq_free_tag_set(&pkram.tag_set);
	unregister_blkdev(pkram_major, "pkram");
	vfree(pkram.data);
	pr_info("gone: %lu reads, %lu writes\n", pkram.reads, pkram.writes);
}

module_init(ramdisk_init);
module_exit(ramdisk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("a RAM disk on blk-mq whose requests go through the module's queue_rq");
MODULE_AUTHOR("pseudokernel fixtures");
