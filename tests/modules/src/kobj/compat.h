/* Included before the source by Kbuild (-include), so that the source keeps its lines and, built
 * against 6.1, its preprocessed text: the same object as before. Against later kernels it
 * bridges the API changes the source meets. */
#include <linux/version.h>
/* 6.4: class_create() lost its owner argument */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#include <linux/device.h>
#define class_create(owner, name) class_create(name)
#endif
/* 6.4: class attribute show/store take const pointers */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define PK_CLASS_CONST const
#else
#define PK_CLASS_CONST
#endif
/* 6.11: platform_driver.remove returns void */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define PK_REMOVE_T void
#define PK_REMOVE_RET
#else
#define PK_REMOVE_T int
#define PK_REMOVE_RET 0
#endif
