"""The emulated machine's address space: where the kernel's text, modules, the direct map,
vmalloc and per-CPU data live, as on x86_64 (Documentation/arch/x86/x86_64/mm.rst), and where
this machine puts what a profile does not place. Read by the CPU, the allocators and the
kernel functions, so it is written once here."""

# The x86_64 address space (arch/x86/include/asm/pgtable_64_types.h, page_64_types.h)
START_KERNEL_MAP = 0xFFFFFFFF80000000
KERNEL_TEXT = 0xFFFFFFFF81000000
MODULES_VADDR = 0xFFFFFFFFC0000000
MODULES_END = 0xFFFFFFFFFF000000
PAGE_OFFSET = 0xFFFF888000000000
VMALLOC_START = 0xFFFFC90000000000
VMALLOC_END = VMALLOC_START + (32 << 40)
THREAD_SIZE = 16384
# where a module function is entered from a system call, below the top of the 16 KiB stack:
# the 6.1 kernel's do_one_initcall() calls init with RSP at top - 0x300 (oops.ko's recording)
ENTRY_DEPTH = 0x300
USER_BUFFER = 0x7F0000000000  # a process's read() buffer (user_buffer())
TICK_SLICE = 0.02  # seconds of emulation between two updates of the clock in memory

# Where this machine puts what the profile does not place: synthetic kernel text (stubs for
# symbols without a known address, trampolines) and data of unknown extent.
PSEUDO_TEXT = 0xFFFFFFFF8E000000
PSEUDO_TEXT_SIZE = 0x400000
PSEUDO_DATA = 0xFFFFFFFF8F000000
PSEUDO_DATA_SIZE = 0x4000000
# The direct map: kmalloc memory (the first GiB is "RAM" as in a 1 GiB QEMU guest)
HEAP_START = PAGE_OFFSET + 0x100000000
HEAP_END = HEAP_START + (1 << 30)
PERCPU_BASE = PAGE_OFFSET + 0x3FC00000  # __per_cpu_offset[0]
# coherent DMA buffers: pages of the guest's low GiB, so their physical (DMA) address fits any
# device's mask as on the reference machine (kernel/dma/direct.c, no IOMMU)
DMA_START = PAGE_OFFSET + 0x10000000
DMA_END = PAGE_OFFSET + 0x30000000
