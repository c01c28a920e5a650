"""blk-mq (block/blk-mq.c, blk-mq-tag.c, blk-settings.c): tag sets and their requests, the
queue of a disk, and the dispatch of a request to the driver's queue_rq.

A tag set's requests are allocated when the set is (blk_mq_alloc_rqs(): sizeof(struct request)
plus the driver's cmd_size each, init_request called on each), and again for the I/O
scheduler's own tags when a disk is added with one (mq-deadline by default for one hardware
queue, as elevator_get_default() picks). A read or write of the disk becomes bios over pages
of kernel memory and a request from those tags, handed to queue_rq() on the CPU of the task
that asked; the request is done when the driver ends it (blk_mq_end_request(), at once or later
from its own deferred work, which the waiting task lets run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from errno import EINVAL, ENOMEM

from ...bits import MASK64, s32
from ...profile import versions
from . import KernelApi, kapi
from . import neg_errno as _err
from .bio import alloc_bio
from .blk_settings import BLK_MAX_SEGMENT_SIZE, set_default_limits
from .mm import page_to_virt
from .sched import wait_until

REQ_OP_READ, REQ_OP_WRITE = 0, 1
REQ_OP_MASK = 0xFF
REQ_SYNC, REQ_IDLE = 1 << 11, 1 << 13  # blk_types.h: __REQ_SYNC and __REQ_IDLE, 8 op bits before them
MQ_RQ_IDLE, MQ_RQ_IN_FLIGHT, MQ_RQ_COMPLETE = 0, 1, 2
BLK_MQ_NO_TAG = 0xFFFFFFFF
BLK_MQ_MAX_DEPTH = 10240
BLK_STS_OK, BLK_STS_TIMEOUT, BLK_STS_RESOURCE, BLK_STS_IOERR, BLK_STS_DEV_RESOURCE = 0, 3, 9, 10, 13
BLKDEV_DEFAULT_RQ = 128
HZ = 250
IOPRIO_CLASS_BE = 2  # a task without an io_context: task_nice_ioclass() of a normal task
NR_CPUS = 1  # the emulated machine's, as the reference machine's QEMU has
REQUEUE_TRIES = 100  # a driver out of resources is asked again this often, 3 ms apart

# block/blk-core.c blk_errors[]: the errno and the text of each status
BLK_ERRORS = {0: (0, ""), 1: (95, "operation not supported"), 2: (110, "timeout"),
              3: (28, "critical space allocation"), 4: (67, "recoverable transport"), 5: (121, "critical target"),
              6: (52, "critical nexus"), 7: (61, "critical medium"), 8: (84, "protection"),
              9: (12, "kernel resource"), 10: (5, "I/O"), 11: (78, "dm internal retry"), 12: (11, "nonblocking retry"),
              13: (16, "device resource"), 14: (109, "open zones exceeded"), 15: (75, "active zones exceeded"),
              16: (19, "device offline")}
OP_NAMES = {0: "READ", 1: "WRITE", 2: "FLUSH", 3: "DISCARD", 5: "SECURE_ERASE", 9: "WRITE_ZEROES"}


@dataclass
class TagSet:
    """A blk_mq_tag_set's requests: per hardware queue, the static requests and which are
    in use (the driver's tags)."""

    addr: int
    owner: str
    rqs: list[list[int]] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)  # the allocations holding them
    busy: set[int] = field(default_factory=set)


@dataclass
class Queue:
    """A request_queue of blk-mq: its hardware contexts, and the scheduler's tags when the
    disk was added with an elevator."""

    addr: int
    set: int
    owner: str
    hctxs: list[int]
    elevator: str | None = None
    sched_rqs: list[list[int]] = field(default_factory=list)
    sched_blocks: list[int] = field(default_factory=list)
    sched_busy: set[int] = field(default_factory=set)


@dataclass
class InFlight:
    """One request handed to the driver: how many bytes remain and how it ended."""

    rq: int
    op: int
    left: int
    status: int = 0
    done: bool = False


def _st(k: KernelApi) -> dict:
    st = k.state.get("blk_mq")
    if st is None:
        st = k.state["blk_mq"] = {"sets": {}, "queues": {}, "inflight": {}}
    return st


def _zalloc(k: KernelApi, size: int, owner: str, kind: str) -> int:
    addr = k.m.kmalloc(size, owner, k.caller if owner else 0, kind=kind)
    if addr:
        k.m.write(addr, bytes(size))
    return addr


def _op(k: KernelApi, ops: int, name: str) -> int:
    return k.m.read_u64(ops + k.S.blk_mq_ops[name]) if ops else 0


def rq_size(k: KernelApi, tagset: int) -> int:
    """round_up(sizeof(struct request) + cmd_size, cache_line_size())."""
    cmd = k.m.read_u32(tagset + k.S.blk_mq_tag_set.cmd_size)
    return (k.S.request.sizeof + cmd + 63) // 64 * 64


def _alloc_rqs(k: KernelApi, tagset: int, depth: int, hctx_idx: int, owner: str, kind: str) -> tuple[int, list[int]] | int:
    """blk_mq_alloc_rqs(): depth requests, init_request() on each; a negative errno if one fails."""
    T = k.S.blk_mq_tag_set
    size = rq_size(k, tagset)
    block = _zalloc(k, size * depth, owner, kind)
    if not block:
        return -ENOMEM
    init = _op(k, k.m.read_u64(tagset + T.ops), "init_request")
    node = k.m.read_s32(tagset + T.numa_node)
    rqs = [block + i * size for i in range(depth)]
    for rq in rqs:
        if init and (ret := s32(k.m.call(init, tagset, rq, hctx_idx, node & 0xFFFFFFFF))):
            k.kfree(block)
            return ret if ret < 0 else -EINVAL
    return block, rqs


def _free_rqs(k: KernelApi, tagset: int, rqs: list[list[int]], blocks: list[int]) -> None:
    """blk_mq_free_rqs(): exit_request() on each, then the memory."""
    exit_ = _op(k, k.m.read_u64(tagset + k.S.blk_mq_tag_set.ops), "exit_request")
    for idx, per in enumerate(rqs):
        for rq in per:
            if exit_:
                k.m.call(exit_, tagset, rq, idx)
    for block in blocks:
        k.kfree(block)


# -- tag sets -------------------------------------------------------------------------------------

@kapi("blk_mq_alloc_tag_set")
def blk_mq_alloc_tag_set(k: KernelApi, tagset: int) -> int:
    """Checks the set as blk_mq_alloc_tag_set() does and allocates each hardware queue's
    requests."""
    T, m = k.S.blk_mq_tag_set, k.m
    ops = m.read_u64(tagset + T.ops)
    nr_hw = m.read_u32(tagset + T.nr_hw_queues)
    depth = m.read_u32(tagset + T.queue_depth)
    if not nr_hw or not depth or depth < m.read_u32(tagset + T.reserved_tags) + 1:
        return _err(EINVAL)
    if not ops or not _op(k, ops, "queue_rq"):
        return _err(EINVAL)
    if depth > BLK_MQ_MAX_DEPTH:
        k.log.info(f"blk-mq: reduced tag depth to {BLK_MQ_MAX_DEPTH}\n")
        depth = BLK_MQ_MAX_DEPTH
        m.write_u32(tagset + T.queue_depth, depth)
    if not m.read_u32(tagset + T.nr_maps):
        m.write_u32(tagset + T.nr_maps, 1)
    if m.read_u32(tagset + T.nr_maps) == 1 and nr_hw > NR_CPUS:  # one hardware queue per CPU at most
        nr_hw = NR_CPUS
        m.write_u32(tagset + T.nr_hw_queues, nr_hw)
    owner = k.caller_module_name()
    ts = TagSet(tagset, owner)
    tags = _zalloc(k, 8 * nr_hw, owner, "blk_mq_tags")
    m.write_u64(tagset + T.tags, tags)
    ts.blocks.append(tags)
    for idx in range(nr_hw):
        got = _alloc_rqs(k, tagset, depth, idx, owner, "blk_mq_rqs")
        if isinstance(got, int):
            _free_rqs(k, tagset, ts.rqs, ts.blocks)
            m.write_u64(tagset + T.tags, 0)
            return _err(-got)
        ts.blocks.append(got[0])
        ts.rqs.append(got[1])
    _st(k)["sets"][tagset] = ts
    return 0


@kapi("blk_mq_alloc_sq_tag_set")
def blk_mq_alloc_sq_tag_set(k: KernelApi, tagset: int, ops: int, depth: int, flags: int) -> int:
    T = k.S.blk_mq_tag_set
    k.m.write(tagset, bytes(T.sizeof))
    k.m.write_u64(tagset + T.ops, ops)
    k.m.write_u32(tagset + T.nr_hw_queues, 1)
    k.m.write_u32(tagset + T.nr_maps, 1)
    k.m.write_u32(tagset + T.queue_depth, depth & 0xFFFFFFFF)
    k.m.write_u32(tagset + T.numa_node, 0xFFFFFFFF)
    k.m.write_u32(tagset + T.flags, flags & 0xFFFFFFFF)
    return blk_mq_alloc_tag_set(k, tagset)


@kapi("blk_mq_free_tag_set")
def blk_mq_free_tag_set(k: KernelApi, tagset: int) -> None:
    ts = _st(k)["sets"].pop(tagset, None)
    if ts is None:
        return
    _free_rqs(k, tagset, ts.rqs, ts.blocks)
    k.m.write_u64(tagset + k.S.blk_mq_tag_set.tags, 0)


# -- the queue ------------------------------------------------------------------------------------

def _limits_features(k: KernelApi) -> int | None:
    """6.11 moved the queue's features (rotational, write cache ...) into queue_limits."""
    lim = k.S.btf("queue_limits")
    return lim.members.get("features") if lim is not None else None


def queue_alloc(k: KernelApi, tagset: int, queuedata: int, lim: int = 0) -> int:
    """blk_mq_init_queue(): a request_queue on the set, its hardware contexts (init_hctx()
    on each), the limits the driver gave (6.9 on) or the defaults."""
    m, S = k.m, k.S
    ts = _st(k)["sets"].get(tagset) if tagset else None
    if tagset and ts is None:
        return _err(EINVAL)
    owner = k.caller_module_name()
    q = _zalloc(k, S.request_queue.sizeof, owner, "request_queue")
    if not q:
        return _err(ENOMEM)
    Q = S.request_queue
    m.write_u64(q + Q.queuedata, queuedata)
    m.write_u32(q + Q.node, 0xFFFFFFFF)
    if lim:
        m.write(q + Q.limits, m.read(lim, S.queue_limits.sizeof))
    set_default_limits(k, q + Q.limits)
    if ts is None:  # blk_alloc_queue(): a queue for a driver that takes bios
        m.write_u32(q + Q.nr_requests, BLKDEV_DEFAULT_RQ)
        _st(k)["queues"][q] = Queue(q, 0, owner, [])
        return q
    m.write_u64(q + Q.tag_set, tagset)
    m.write_u64(q + Q.mq_ops, m.read_u64(tagset + S.blk_mq_tag_set.ops))
    m.write_u32(q + Q.nr_requests, m.read_u32(tagset + S.blk_mq_tag_set.queue_depth))
    ops = m.read_u64(tagset + S.blk_mq_tag_set.ops)
    init_hctx = _op(k, ops, "init_hctx")
    driver_data = m.read_u64(tagset + S.blk_mq_tag_set.driver_data)
    H = S.blk_mq_hw_ctx
    hctxs = []
    for idx in range(len(ts.rqs)):
        hctx = _zalloc(k, H.sizeof, owner, "blk_mq_hw_ctx")
        m.write_u64(hctx + H.queue, q)
        m.write_u32(hctx + H.queue_num, idx)
        m.write_u32(hctx + H.numa_node, 0xFFFFFFFF)
        m.write_u64(hctx + H.flags, m.read_u32(tagset + S.blk_mq_tag_set.flags))
        hctxs.append(hctx)
        if init_hctx and (ret := s32(m.call(init_hctx, hctx, driver_data, idx))):
            for h in hctxs:
                k.kfree(h)
            k.kfree(q)
            return (ret if ret < 0 else -EINVAL) & MASK64
    _st(k)["queues"][q] = Queue(q, tagset, owner, hctxs)
    return q


def queue_free(k: KernelApi, q: int) -> None:
    """blk_mq_exit_queue() and the queue's release: exit_hctx(), the scheduler's requests."""
    qs = _st(k)["queues"].pop(q, None)
    if qs is None:
        return
    elevator_exit(k, qs)
    ops = k.m.read_u64(q + k.S.request_queue.mq_ops)
    exit_hctx = _op(k, ops, "exit_hctx")
    for idx, hctx in enumerate(qs.hctxs):
        if exit_hctx:
            k.m.call(exit_hctx, hctx, idx)
        k.kfree(hctx)
    k.kfree(q)


def queue(k: KernelApi, q: int) -> Queue | None:
    return _st(k)["queues"].get(q)


@kapi("blk_mq_init_queue")
def blk_mq_init_queue(k: KernelApi, tagset: int) -> int:
    return queue_alloc(k, tagset, 0)


@kapi("blk_mq_destroy_queue", "blk_cleanup_queue")
def blk_mq_destroy_queue(k: KernelApi, q: int) -> None:
    queue_free(k, q)


# -- the I/O scheduler ----------------------------------------------------------------------------

def _sched_flags(k: KernelApi) -> tuple[int, int]:
    """(BLK_MQ_F_NO_SCHED, BLK_MQ_F_NO_SCHED_BY_DEFAULT) as the profile's enum numbers them."""
    return (1 << 5, 1 << 6) if k.profile.since(versions.BLK_MQ_FLAGS_RENUMBERED) else (1 << 6, 1 << 7)


def builtin_elevators(k: KernelApi) -> list[str]:
    """The schedulers registered at boot (elv_list): those the config builds in."""
    cfg = k.profile.config
    names = (("MQ_IOSCHED_DEADLINE", "mq-deadline"), ("MQ_IOSCHED_KYBER", "kyber"), ("IOSCHED_BFQ", "bfq"))
    return [name for option, name in names if cfg.get("CONFIG_" + option) == "y"]


def elevator_init_mq(k: KernelApi, qs: Queue) -> None:
    """elevator_init_mq(): mq-deadline for a queue with one hardware queue (or shared tags)
    unless the set asks for none; its own requests, q->nr_requests = 2 * min(depth, 128)."""
    if not qs.set:
        return  # a queue without requests has no scheduler
    flags = k.m.read_u32(qs.set + k.S.blk_mq_tag_set.flags)
    no_sched, no_default = _sched_flags(k)
    if flags & (no_sched | no_default) or len(qs.hctxs) != 1 or "mq-deadline" not in builtin_elevators(k):
        return
    depth = k.m.read_u32(qs.set + k.S.blk_mq_tag_set.queue_depth)
    nr = 2 * min(depth, BLKDEV_DEFAULT_RQ)
    for idx in range(len(qs.hctxs)):
        got = _alloc_rqs(k, qs.set, nr, idx, qs.owner, "blk_mq_sched_rqs")
        if isinstance(got, int):
            elevator_exit(k, qs)
            return
        qs.sched_blocks.append(got[0])
        qs.sched_rqs.append(got[1])
    qs.elevator = "mq-deadline"
    k.m.write_u32(qs.addr + k.S.request_queue.nr_requests, nr)


def elevator_exit(k: KernelApi, qs: Queue) -> None:
    if qs.sched_blocks:
        _free_rqs(k, qs.set, qs.sched_rqs, qs.sched_blocks)
    qs.sched_rqs, qs.sched_blocks, qs.elevator = [], [], None


# -- a request's life -----------------------------------------------------------------------------

def _take(pool: list[int], busy: set[int]) -> int | None:
    return next((rq for rq in pool if rq not in busy), None)


def execute(k: KernelApi, q: int, part0: int, op: int, flags: int, sector: int,
            segments: list[tuple[int, int, int]]) -> int:
    """One request of (page, offset, length) segments at sector, handed to queue_rq() as
    blk_mq_dispatch_rq_list() does, waited for until the driver ends it: its blk_status_t."""
    m, S = k.m, k.S
    qs = queue(k, q)
    ts = _st(k)["sets"].get(qs.set) if qs is not None else None
    if ts is None:
        return BLK_STS_IOERR
    hctx = qs.hctxs[0]
    tag_rq = _take(ts.rqs[0], ts.busy)
    if tag_rq is None:
        return BLK_STS_RESOURCE
    rq = tag_rq
    internal = BLK_MQ_NO_TAG
    if qs.elevator:
        rq = _take(qs.sched_rqs[0], qs.sched_busy)
        if rq is None:
            return BLK_STS_RESOURCE
        internal = qs.sched_rqs[0].index(rq)
        qs.sched_busy.add(rq)
    ts.busy.add(tag_rq)
    nbytes = sum(length for _p, _o, length in segments)
    R = S.request
    bio = alloc_bio(k, part0, op | flags, sector, segments)
    m.write(rq, bytes(R.sizeof))  # blk_mq_rq_ctx_init() sets each field; the pdu is the driver's
    m.write_u64(rq + R.q, q)
    m.write_u64(rq + R.mq_hctx, hctx)
    m.write_u32(rq + R.cmd_flags, op | flags)
    m.write_u32(rq + R.tag, ts.rqs[0].index(tag_rq))
    m.write_u32(rq + R.internal_tag, internal)
    m.write_u32(rq + R.timeout, 30 * HZ)
    m.write_u32(rq + R.__data_len, nbytes)
    m.write_u64(rq + R.__sector, sector)
    m.write_u64(rq + R.bio, bio)
    m.write_u64(rq + R.biotail, bio)
    m.write_u64(rq + R.part, part0)
    m.write_u64(rq + R.start_time_ns, k.now_ns())
    m.write_u16(rq + R.nr_phys_segments, len(segments))
    m.write_u32(rq + R.ref, 1)
    fl = InFlight(rq, op, nbytes)
    _st(k)["inflight"][rq] = fl
    bd = _zalloc(k, S.blk_mq_queue_data.sizeof, "", "blk_mq_queue_data")
    m.write_u64(bd + S.blk_mq_queue_data.rq, rq)
    m.write_u8(bd + S.blk_mq_queue_data.last, 1)
    queue_rq = _op(k, m.read_u64(q + S.request_queue.mq_ops), "queue_rq")
    try:
        for _ in range(REQUEUE_TRIES):
            ret = m.call(queue_rq, hctx, bd) & 0xFF
            if ret in (BLK_STS_RESOURCE, BLK_STS_DEV_RESOURCE) and not fl.done:
                k.sleep_ns(3_000_000)  # BLK_MQ_RESOURCE_DELAY: the queue is run again later
                continue
            if ret != BLK_STS_OK and not fl.done:
                end_request(k, rq, ret)  # blk_mq_end_request(rq, ret) for the driver
            break
        else:
            end_request(k, rq, BLK_STS_IOERR)
        if not fl.done and not wait_until(k, lambda: fl.done, None):
            end_request(k, rq, BLK_STS_TIMEOUT)  # never ended: the timeout handler's verdict
        return fl.status
    finally:
        _st(k)["inflight"].pop(rq, None)
        ts.busy.discard(tag_rq)
        qs.sched_busy.discard(rq)
        k.kfree(bd)
        k.kfree(bio)


def print_req_error(k: KernelApi, rq: int, status: int) -> None:
    """blk_print_req_error()."""
    m, R = k.m, k.S.request
    q = m.read_u64(rq + R.q)
    disk = m.read_u64(q + k.S.request_queue.disk) if q else 0
    name = k.cname(disk + k.S.gendisk.disk_name) if disk else "?"
    flags = m.read_u32(rq + R.cmd_flags)
    op = flags & REQ_OP_MASK
    k.log.err(f"{BLK_ERRORS.get(status, (5, 'I/O'))[1]} error, dev {name}, sector {m.read_u64(rq + R.__sector)} "
              f"op {op:#x}:({OP_NAMES.get(op, 'UNKNOWN')}) flags {flags & ~REQ_OP_MASK:#x} "
              f"phys_seg {m.read_u16(rq + R.nr_phys_segments)} prio class {IOPRIO_CLASS_BE}\n")


def update_request(k: KernelApi, rq: int, status: int, nbytes: int) -> bool:
    """blk_update_request(): nbytes of the request are done (its position moves past them);
    an error is printed once; True while some remain."""
    fl = _st(k)["inflight"].get(rq)
    if fl is None:
        return False
    R = k.S.request
    if status and not fl.status:
        print_req_error(k, rq, status)
        fl.status = status
    nbytes = min(nbytes, fl.left)
    fl.left -= nbytes
    k.m.write_u32(rq + R.__data_len, fl.left)
    k.m.write_u64(rq + R.__sector, k.m.read_u64(rq + R.__sector) + nbytes // 512)
    return fl.left > 0


def end_request(k: KernelApi, rq: int, status: int) -> None:
    fl = _st(k)["inflight"].get(rq)
    if fl is None or fl.done:
        return
    if status and not fl.status:
        print_req_error(k, rq, status)
        fl.status = status
    fl.done = True
    k.m.write_u32(rq + k.S.request.state, MQ_RQ_IDLE)


@kapi("blk_mq_start_request")
def blk_mq_start_request(k: KernelApi, rq: int) -> None:
    R = k.S.request
    k.m.write_u64(rq + R.io_start_time_ns, k.now_ns())
    k.m.write_u64(rq + R.deadline, k.jiffies() + k.m.read_u32(rq + R.timeout))
    k.m.write_u32(rq + R.state, MQ_RQ_IN_FLIGHT)


@kapi("blk_mq_end_request")
def blk_mq_end_request(k: KernelApi, rq: int, error: int) -> None:
    error &= 0xFF
    fl = _st(k)["inflight"].get(rq)
    if fl is not None:
        update_request(k, rq, error, fl.left)
    end_request(k, rq, error)


@kapi("__blk_mq_end_request")
def __blk_mq_end_request(k: KernelApi, rq: int, error: int) -> None:
    end_request(k, rq, error & 0xFF)


@kapi("blk_update_request")
def blk_update_request(k: KernelApi, rq: int, error: int, nr_bytes: int) -> int:
    return int(update_request(k, rq, error & 0xFF, nr_bytes & 0xFFFFFFFF))


@kapi("blk_mq_complete_request")
def blk_mq_complete_request(k: KernelApi, rq: int) -> None:
    """Completion on this CPU: the driver's complete() (which ends the request)."""
    q = k.m.read_u64(rq + k.S.request.q)
    complete = _op(k, k.m.read_u64(q + k.S.request_queue.mq_ops), "complete")
    k.m.write_u32(rq + k.S.request.state, MQ_RQ_COMPLETE)
    if complete:
        k.m.call(complete, rq)


@kapi("blk_mq_complete_request_remote")
def blk_mq_complete_request_remote(k: KernelApi, rq: int) -> int:
    k.m.write_u32(rq + k.S.request.state, MQ_RQ_COMPLETE)
    return 0  # one CPU: never completed elsewhere


@kapi("blk_status_to_errno")
def blk_status_to_errno(k: KernelApi, status: int) -> int:
    return _err(BLK_ERRORS.get(status & 0xFF, (5, ""))[0]) & 0xFFFFFFFF


SG_CHAIN, SG_END = 1, 2


@kapi("__blk_rq_map_sg")
def __blk_rq_map_sg(k: KernelApi, q: int, rq: int, sglist: int, last_sg: int) -> int:
    """block/blk-merge.c: the request's segments into the scatterlist, physically contiguous
    ones merged up to max_segment_size; the last entry marked as the end. The count."""
    m, S = k.m, k.S
    B, V, SG = S.bio, S.bio_vec, S.scatterlist
    max_seg = m.read_u32(q + S.request_queue.limits + S.queue_limits.max_segment_size) or BLK_MAX_SEGMENT_SIZE
    segs: list[list[int]] = []  # [page, offset, length]
    bio = m.read_u64(rq + S.request.bio)
    while bio:
        vecs, n = m.read_u64(bio + B.bi_io_vec), m.read_u16(bio + B.bi_vcnt)
        for i in range(n):
            v = vecs + i * V.sizeof
            page, length, off = m.read_u64(v + V.bv_page), m.read_u32(v + V.bv_len), m.read_u32(v + V.bv_offset)
            if segs:
                pp, po, pl = segs[-1]
                if page_to_virt(pp) + po + pl == page_to_virt(page) + off and pl + length <= max_seg:
                    segs[-1][2] += length
                    continue
            segs.append([page, off, length])
        bio = m.read_u64(bio + B.bi_next)
    sg = m.read_u64(last_sg) if last_sg else 0
    for page, off, length in segs:
        sg = sglist if not sg else sg + SG.sizeof
        m.write_u64(sg + SG.page_link, page | (m.read_u64(sg + SG.page_link) & SG_CHAIN))
        m.write_u32(sg + SG.offset, off)
        m.write_u32(sg + SG.length, length)
    if sg:
        m.write_u64(sg + SG.page_link, (m.read_u64(sg + SG.page_link) & ~SG_CHAIN) | SG_END)
        if last_sg:
            m.write_u64(last_sg, sg)
    return len(segs)
