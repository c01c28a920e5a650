"""The %pG name tables: mm/debug.c's pageflag_names[], vmaflag_names[] and gfpflag_names[].

mm/debug.c fills them from include/trace/events/mmflags.h's __def_*flag_names; vsprintf.c only
reads them. Values are Debian 6.1.0-56-amd64's (its configuration decides which flags exist).
"""

from __future__ import annotations

PAGEFLAG_NAMES = (
    (1 << 0, "locked"), (1 << 7, "waiters"), (1 << 8, "error"), (1 << 1, "referenced"),
    (1 << 2, "uptodate"), (1 << 3, "dirty"), (1 << 4, "lru"), (1 << 5, "active"),
    (1 << 6, "workingset"), (1 << 9, "slab"), (1 << 10, "owner_priv_1"), (1 << 11, "arch_1"),
    (1 << 12, "reserved"), (1 << 13, "private"), (1 << 14, "private_2"),
    (1 << 15, "writeback"), (1 << 16, "head"), (1 << 17, "mappedtodisk"),
    (1 << 18, "reclaim"), (1 << 19, "swapbacked"), (1 << 20, "unevictable"),
    (1 << 21, "mlocked"), (1 << 22, "uncached"), (1 << 23, "hwpoison"), (1 << 24, "arch_2"),
)
VMAFLAG_NAMES = (
    (0x1, "read"), (0x2, "write"), (0x4, "exec"), (0x8, "shared"), (0x10, "mayread"),
    (0x20, "maywrite"), (0x40, "mayexec"), (0x80, "mayshare"), (0x100, "growsdown"),
    (0x200, "uffd_missing"), (1 << 37, "uffd_minor"), (0x400, "pfnmap"), (0x1000, "uffd_wp"),
    (0x2000, "locked"), (0x4000, "io"), (0x8000, "seqread"), (0x10000, "randread"),
    (0x20000, "dontcopy"), (0x40000, "dontexpand"), (0x80000, "lockonfault"),
    (0x100000, "account"), (0x200000, "noreserve"), (0x400000, "hugetlb"),
    (0x800000, "sync"), (0x1000000, "pat"), (0x2000000, "wipeonfork"),
    (0x4000000, "dontdump"), (0x8000000, "softdirty"), (0x10000000, "mixedmap"),
    (0x20000000, "hugepage"), (0x40000000, "nohugepage"), (0x80000000, "mergeable"),
)
GFPFLAG_NAMES = (
    (0x1C24CA, "GFP_TRANSHUGE"), (0x1C20CA, "GFP_TRANSHUGE_LIGHT"),
    (0x100CCA, "GFP_HIGHUSER_MOVABLE"), (0x100CC2, "GFP_HIGHUSER"), (0x100CC0, "GFP_USER"),
    (0x400CC0, "GFP_KERNEL_ACCOUNT"), (0xCC0, "GFP_KERNEL"), (0xC40, "GFP_NOFS"),
    (0xA20, "GFP_ATOMIC"), (0xC00, "GFP_NOIO"), (0x800, "GFP_NOWAIT"), (0x1, "GFP_DMA"),
    (0x2, "__GFP_HIGHMEM"), (0x4, "GFP_DMA32"), (0x20, "__GFP_HIGH"), (0x200, "__GFP_ATOMIC"),
    (0x40, "__GFP_IO"), (0x80, "__GFP_FS"), (0x2000, "__GFP_NOWARN"),
    (0x4000, "__GFP_RETRY_MAYFAIL"), (0x8000, "__GFP_NOFAIL"), (0x10000, "__GFP_NORETRY"),
    (0x40000, "__GFP_COMP"), (0x100, "__GFP_ZERO"), (0x80000, "__GFP_NOMEMALLOC"),
    (0x20000, "__GFP_MEMALLOC"), (0x100000, "__GFP_HARDWALL"), (0x200000, "__GFP_THISNODE"),
    (0x10, "__GFP_RECLAIMABLE"), (0x8, "__GFP_MOVABLE"), (0x400000, "__GFP_ACCOUNT"),
    (0x1000, "__GFP_WRITE"), (0xC00, "__GFP_RECLAIM"), (0x400, "__GFP_DIRECT_RECLAIM"),
    (0x800, "__GFP_KSWAPD_RECLAIM"), (0x800000, "__GFP_ZEROTAGS"),
)
