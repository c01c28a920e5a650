/* Included before the source by Kbuild (-include), so that the source keeps its lines and, built
 * against 6.1, its preprocessed text: the same object as before. Against later kernels it
 * bridges the API changes the source meets. */
#include <linux/version.h>
/* 6.12: no_llseek is gone; a NULL .llseek now means the same (ESPIPE) */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define no_llseek NULL
#endif
