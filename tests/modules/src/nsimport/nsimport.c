// SPDX-License-Identifier: GPL-2.0
/* Uses dma_buf_get from namespace DMA_BUF without importing it (modpost insists, so the build blanks the import). */
#include <linux/module.h>
#include <linux/dma-buf.h>

static int __init nsimport_init(void)
{
	struct dma_buf *b = dma_buf_get(-1);

	return IS_ERR(b) ? 0 : -EINVAL;
}

static void __exit nsimport_exit(void)
{
}

module_init(nsimport_init);
module_exit(nsimport_exit);
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);	/* blanked out after the build */
