"""Where the kernel changed between the versions pseudokernel emulates (the module loader
above all), by the upstream release that made each change.

The loader is written as 6.1's source, and at each place a later kernel does otherwise it asks
`kernel.profile.since(CHANGE)` and does that instead, the two side by side in the file the
kernel changed. A profile of another release (6.8, the next Debian kernel) then gets every
change up to its version without more code; what it changed that is not listed here is the work
of adding it (docs/design.md, "Kernel versions").

6.1 and 6.12 were recorded on the real kernels (tests/expected/real, tests/expected/real-6.12).
A change whose upstream release is known from its history names that release; one that was
only seen to differ between the two recorded kernels names 6.12, the first release known to
have it: a profile of a kernel in between gets 6.1's behaviour there until someone checks.
"""

# struct module_memory and enum mod_mem_type replace core_layout/init_layout: each kind of
# module memory (text, data, rodata, ro_after_init, init text/data/rodata) is allocated on
# its own, page-aligned (kernel/module/main.c: module_memory_alloc; Song Liu, "module: replace
# module_layout with module_memory")
MOD_MEM = (6, 4)

# load_module() checks the module against the list (blacklist, modstruct version, vermagic,
# a duplicate name) in early_mod_check(), before anything is allocated, and taints only once
# the module is unique (module_augment_kernel_taints()); Luis Chamberlain's series "module:
# move early sanity checks into a helper" and "module: split taint adding with info checking"
EARLY_MOD_CHECK = (6, 4)

# concurrent finit_module() calls on one file share one load and its result (idempotent(),
# idempotent_init_module(); Linus Torvalds, "modules: catch concurrent module loads, treat
# them as idempotent", 2023; release not checked)
IDEMPOTENT_FINIT = (6, 12)

# msleep() and msleep_interruptible() sleep msecs_to_jiffies(msecs) jiffies, not one more
# (kernel/time/timer.c: 6.1 adds 1, 6.12 does not; msleep_interruptible() returns what is
# left, so a kthread stopped at its start reports 10004 ms of 10000 on 6.1, 10000 on 6.12:
# ktask.sh; release not checked)
MSLEEP_NO_EXTRA_JIFFY = (6, 12)

# elf_validity_check() split into elf_validity_cache_copy()'s steps: every sh_name checked,
# ".gnu.linkonce.this_module" checked before the symbol table, new messages (Matthew Maurer,
# "module: Factor out elf_validity_ehdr" and the rest of that series; the this_module checks
# themselves came earlier, 6.8 kernels print them)
ELF_VALIDITY_CACHE = (6, 12)

# x86 apply_relocate_add(): "Invalid relocation target, existing value is nonzero" replaces
# "Skipping invalid relocation target" (arch/x86/kernel/module.c; release not checked)
RELOC_NONZERO_MESSAGE = (6, 12)

# dump_stack's header line gains "UID: n" (lib/dump_stack.c) and the oops/WARN report a
# "Tainted: [O]=OOT_MODULE, ..." line (kernel/panic.c: print_tainted_verbose); releases not
# checked
DUMP_STACK_UID = (6, 12)

# __die_header() says "Oops: " before what died ("Oops: Oops: 0000 [#1]", "Oops: invalid
# opcode: 0000"; arch/x86/kernel/dumpstack.c; release not checked)
DIE_HEADER_OOPS = (6, 12)
TAINTED_VERBOSE = (6, 12)

# misc_register(): dynamic minors from an IDA, the lowest free from 256 up, where 6.1 counted
# down from 127 in a bitmap (drivers/char/misc.c; release not checked)
MISC_MINOR_IDA = (6, 12)

# show_mem()'s node line without the space in "shmem_thp: 0kB" and its neighbours (mm/show_mem.c;
# release not checked)
SHOW_MEM_THP = (6, 12)

# debugfs_create_blob() files take writes (fs/debugfs/file.c write_file_blob(); release not
# checked)
DEBUGFS_BLOB_WRITE = (6, 12)

# find_kallsyms_symbol() bounds a symbol by the module memory that holds it, data as well as
# text (kernel/module/kallsyms.c with module_memory)
KALLSYMS_BY_MEM = MOD_MEM

# blk_mq_alloc_disk() takes the queue limits (NULL: the defaults) before the queue data
# (include/linux/blk-mq.h, "block: pass a queue_limits argument to blk_mq_alloc_disk", 6.9)
BLK_MQ_ALLOC_DISK_LIMITS = (6, 9)

# the queue's features (rotational, write cache ...) are limits.features bits set by the driver,
# rotational among them (off unless asked), where 6.1 had QUEUE_FLAG_NONROT in queue_flags
# (block/blk-settings.c, 6.11)
BLK_FEATURES_IN_LIMITS = (6, 11)

# enum blk_mq_flags lost BLK_MQ_F_... bit 4 and moved BLOCKING, NO_SCHED and NO_SCHED_BY_DEFAULT
# down one bit (include/linux/blk-mq.h; release not checked)
BLK_MQ_FLAGS_RENUMBERED = (6, 12)

# /sys/block/<disk>: capability prints 0 with a dev_warn_once() that it is deprecated; a
# partscan attribute; the scheduler list puts "none" first (block/genhd.c, block/elevator.c;
# release not checked)
DISK_CAPABILITY_DEPRECATED = (6, 12)
DISK_PARTSCAN_ATTR = (6, 12)
ELV_NONE_FIRST = (6, 12)

# block_device_operations.open() takes the gendisk and a blk_mode_t where 6.1 passed the
# block_device and an fmode_t (include/linux/blkdev.h, 6.5)
BLK_OPEN_GENDISK = (6, 5)
