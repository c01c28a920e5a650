/* Included before the source by Kbuild (-include), so that the source keeps its lines and, built
 * against 6.1, its preprocessed text: the same object as before. Against later kernels it
 * bridges the API changes the source meets. */
#include <linux/version.h>
/* 6.4: class_create() lost its owner argument */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#include <linux/device.h>
#define class_create(owner, name) class_create(name)
#endif
