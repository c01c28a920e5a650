"""Networking (net/core/dev.c, net_namespace.c, sock.c, ...): net devices, the initial network
namespace, per-net operations, protocol families and handlers (notifier chains are in
notifier.py, sk_buff queues in skbuff.py).

register_pernet_subsys()/register_pernet_device() run the ops' init for init_net (the only
namespace), with its net_generic slot allocated, as the kernel does; unregistering runs exit.
Net devices are allocated with their private area and setup() called; register_netdevice()
names them (eth%d -> eth0 ...), gives them an ifindex (1 is lo) and records them. Protocols,
rtnl link kinds, netfilter hooks, generic netlink families are recorded.
"""

from __future__ import annotations

from errno import EEXIST

from ...bits import MASK64
from ...bits import s32 as _s32
from . import KernelApi, VarArgs, kapi, kdata
from . import neg_errno as _err
from .device import dev_driver_string, dev_name, dev_printk_info, free_kernel_object
from .printk import _level_of

NETDEV_ALIGN = 32
MAX_GEN = 256
FIRST_PERNET_ID = 40  # ids the reference kernel's built-in subsystems hold


def _st(k: KernelApi) -> dict:
    st = k.state.get("net")
    if st is None:
        st = k.state["net"] = {"ifindex": 2, "pernet_id": FIRST_PERNET_ID, "netdevs": {}}
    return st


def init_net(k: KernelApi) -> int:
    return k.data_symbol("init_net")


@kdata("init_net", size=4096)
def _init_net(k: KernelApi, addr: int) -> None:
    """The initial namespace: its net_generic array, user namespace and reference count."""
    gen = k.m.kmalloc(8 * (MAX_GEN + 3), "", 0, kind="net_generic")
    k.m.write_u32(gen, MAX_GEN)
    k.m.write_u64(addr + k.S.net.gen, gen)
    user_ns = k.data_symbol("init_user_ns")
    if k.btf_struct("net") and "user_ns" in k.btf_struct("net").members:
        k.m.write_u64(addr + k.S.net.user_ns, user_ns)
    k.m.write_u32(addr + k.S.net.passive, 1)
    init_list_heads(k, addr, "net")
    # ns.count: alive, so maybe_get_net() (a /proc/net file's open) succeeds
    k.m.write_u32(addr + k.S.net.ns + k.S.ns_common.count, 1)
    # /proc/net and /proc/net/stat of the namespace (fs/proc/proc_net.c)
    from .fs import _entry

    proc_net = _entry(k, "proc", "net", 0, k.S.proc_dir_entry.sizeof, mode=0o40555, dir=True)
    stat = _entry(k, "proc", "stat", proc_net, k.S.proc_dir_entry.sizeof, mode=0o40555, dir=True)
    k.registry.find("proc", proc_net).owner = ""
    k.registry.find("proc", stat).owner = ""
    k.m.write_u64(addr + k.S.net.proc_net, proc_net)
    k.m.write_u64(addr + k.S.net.proc_net_stat, stat)


def init_list_heads(k: KernelApi, addr: int, struct: str, depth: int = 0) -> None:
    """INIT_LIST_HEAD() every list_head of a static kernel object (and of the structs it
    embeds), as the kernel's initialisers leave them: empty lists, not NULL pointers."""
    s = k.btf_struct(struct)
    if s is None or depth > 3:
        return
    for mem in s.members.values():
        t = mem.type
        if t.kind == "struct" and t.name == "list_head":
            k.m.write_u64(addr + mem.offset, addr + mem.offset)
            k.m.write_u64(addr + mem.offset + 8, addr + mem.offset)
        elif t.kind == "struct" and t.name and t.size and mem.bit_size == 0:
            init_list_heads(k, addr + mem.offset, t.name, depth + 1)


def _net_generic_slot(k: KernelApi, net: int, pid: int) -> int:
    gen = k.m.read_u64(net + k.S.net.gen)
    return gen + 8 * pid


def _pernet(k: KernelApi, ops: int, kind: str) -> int:
    po = k.S.pernet_operations
    st = _st(k)
    net = init_net(k)
    idp = k.m.read_u64(ops + po.id)
    size = k.m.read_u64(ops + po.size)
    if idp:
        pid = k.m.read_u32(idp)
        if not pid:
            pid = st["pernet_id"]
            st["pernet_id"] += 1
            k.m.write_u32(idp, pid)
        if size:
            data = k.m.kmalloc(size, k.caller_module_name(), k.caller, kind="pernet")
            k.m.write_u64(_net_generic_slot(k, net, pid), data)
    k.registry.add(kind, f"pernet@{ops:x}", ops, k.caller_module_name())
    init = k.m.read_u64(ops + po.init)
    if init:
        ret = _s32(k.m.call(init, net))
        if ret:
            k.registry.remove(kind, ops)
            return ret & MASK64
    return 0


def _unpernet(k: KernelApi, ops: int, kind: str) -> None:
    po = k.S.pernet_operations
    if k.registry.remove(kind, ops) is None:
        return
    net = init_net(k)
    pre = k.m.read_u64(ops + po.pre_exit)
    if pre:
        k.m.call(pre, net)
    ex = k.m.read_u64(ops + po.exit)
    if ex:
        k.m.call(ex, net)
    batch = k.m.read_u64(ops + po.exit_batch)
    if batch:
        head = k.m.kmalloc(16, "", 0, kind="list")
        node = net + k.S.net.exit_list
        k.m.write_u64(head, node)
        k.m.write_u64(head + 8, node)
        k.m.write_u64(node, head)
        k.m.write_u64(node + 8, head)
        k.m.call(batch, head)
    idp = k.m.read_u64(ops + po.id)
    if idp and k.m.read_u64(ops + po.size):
        slot = _net_generic_slot(k, net, k.m.read_u32(idp))
        k.kfree(k.m.read_u64(slot))
        k.m.write_u64(slot, 0)


@kapi("register_pernet_subsys")
def register_pernet_subsys(k: KernelApi, ops: int) -> int:
    return _pernet(k, ops, "pernet_subsys")


@kapi("register_pernet_device")
def register_pernet_device(k: KernelApi, ops: int) -> int:
    return _pernet(k, ops, "pernet_device")


@kapi("unregister_pernet_subsys")
def unregister_pernet_subsys(k: KernelApi, ops: int) -> None:
    _unpernet(k, ops, "pernet_subsys")


@kapi("unregister_pernet_device")
def unregister_pernet_device(k: KernelApi, ops: int) -> None:
    _unpernet(k, ops, "pernet_device")


# -- net devices ------------------------------------------------------------------------------------

def netdev_size(k: KernelApi) -> int:
    return (k.S.net_device.sizeof + NETDEV_ALIGN - 1) & ~(NETDEV_ALIGN - 1)


@kapi("alloc_netdev_mqs")
def alloc_netdev_mqs(k: KernelApi, sizeof_priv: int, name: int, assign: int, setup: int, txqs: int,
                     rxqs: int) -> int:
    txqs &= 0xFFFFFFFF
    rxqs &= 0xFFFFFFFF
    if txqs < 1 or rxqs < 1:
        k.log.printk(b"\x013alloc_netdev_mqs: Unable to allocate device with zero queues\n")
        return 0
    size = netdev_size(k) + (_s32(sizeof_priv) if _s32(sizeof_priv) > 0 else 0)
    dev = k.m.kmalloc(size, k.caller_module_name(), k.caller, kind="net_device")
    if not dev:
        return 0
    # name is the first member in 6.1; 6.12 groups the hot members first and has it at 304
    k.m.write(dev + k.S.net_device.name, k.cstr(name, 15)[:15] + b"\0")
    nd = k.btf_struct("net_device")
    if nd is not None and "priv_len" in nd.members:  # 6.12: priv[] __counted_by(priv_len)
        k.m.write_u32(dev + nd.members["priv_len"].offset, max(_s32(sizeof_priv), 0))
    qsize = k.S.netdev_queue.sizeof
    tx = k.m.kmalloc(qsize * txqs, k.caller_module_name(), k.caller, kind="netdev_queue")
    for i in range(txqs):
        k.m.write_u64(tx + i * qsize + k.S.netdev_queue.dev, dev)
    k.m.write_u64(dev + k.S.net_device._tx, tx)
    k.m.write_u32(dev + k.S.net_device.num_tx_queues, txqs)
    k.m.write_u32(dev + k.S.net_device.real_num_tx_queues, txqs)
    if "num_rx_queues" in (k.btf_struct("net_device").members if k.btf_struct("net_device") else {}):
        k.m.write_u32(dev + k.S.net_device.num_rx_queues, rxqs)
        k.m.write_u32(dev + k.S.net_device.real_num_rx_queues, rxqs)
    k.m.write_u64(dev + k.S.net_device.nd_net, init_net(k))
    k.m.write_u32(dev + k.S.net_device.gso_max_size, 65536)
    k.m.write_u16(dev + k.S.net_device.gso_max_segs, 65535)
    pcpu = k.m.percpu.alloc(4, 4)
    if "pcpu_refcnt" in (k.btf_struct("net_device").members if k.btf_struct("net_device") else {}):
        k.m.write_u64(dev + k.S.net_device.pcpu_refcnt, pcpu or 0)
    devp = dev + k.S.net_device.dev
    k.m.write_u32(devp + k.S.device.kobj + k.S.kobject.kref, 1)
    k.m.write_u64(devp + k.S.device["class"], _net_class(k))
    for name_ in ("dev_addr",):
        addr = k.m.kmalloc(32, k.caller_module_name(), k.caller, kind="dev_addr")
        k.m.write_u64(dev + k.S.net_device[name_], addr)
    if setup:
        k.m.call(setup, dev)
    return dev


def _net_class(k: KernelApi) -> int:
    c = k.state.get("net_class")
    if c is None:
        c = k.state["net_class"] = k.m.kmalloc(k.S["class"].sizeof, "", 0, kind="class")
        k.m.write_u64(c, k.static_string("net"))
    return c


@kapi("alloc_etherdev_mqs")
def alloc_etherdev_mqs(k: KernelApi, sizeof_priv: int, txqs: int, rxqs: int) -> int:
    return alloc_netdev_mqs(k, sizeof_priv, k.static_string("eth%d"), 3, k.function("ether_setup"), txqs, rxqs)


@kapi("ether_setup")
def ether_setup(k: KernelApi, dev: int) -> None:
    """net/ethernet/eth.c ether_setup()."""
    k.m.write_u64(dev + k.S.net_device.header_ops, k.data_symbol("eth_header_ops"))
    k.m.write_u16(dev + k.S.net_device.type, 1)  # ARPHRD_ETHER
    k.m.write_u16(dev + k.S.net_device.hard_header_len, 14)
    k.m.write_u32(dev + k.S.net_device.mtu, 1500)
    k.m.write_u32(dev + k.S.net_device.min_mtu, 68)
    k.m.write_u32(dev + k.S.net_device.max_mtu, 1500)
    k.m.write_u8(dev + k.S.net_device.addr_len, 6)
    k.m.write_u32(dev + k.S.net_device.tx_queue_len, 1000)
    k.m.write_u32(dev + k.S.net_device.flags, 0x1002)  # IFF_BROADCAST | IFF_MULTICAST
    k.m.write(dev + k.S.net_device.broadcast, b"\xff" * 6)


def _dev_alloc_name(k: KernelApi, dev: int) -> str | None:
    name = k.m.read(dev + k.S.net_device.name, 16).split(b"\0", 1)[0].decode("utf-8", "replace")
    taken = {v for v in _st(k)["netdevs"].values()} | {"lo"}
    if "%d" in name:
        for i in range(32768):
            cand = name.replace("%d", str(i), 1)
            if cand not in taken:
                return cand
        return None
    return None if name in taken else name


@kapi("register_netdevice", "register_netdev")
def register_netdevice(k: KernelApi, dev: int) -> int:
    st = _st(k)
    name = _dev_alloc_name(k, dev)
    if name is None:
        return _err(EEXIST)
    k.m.write(dev + k.S.net_device.name, name.encode()[:15] + b"\0")
    ops = k.m.read_u64(dev + k.S.net_device.netdev_ops)
    ndo_init = k.m.read_u64(ops + k.S.net_device_ops.ndo_init) if ops else 0
    if ndo_init:
        ret = _s32(k.m.call(ndo_init, dev))
        if ret:
            return ret & MASK64
    ifindex = st["ifindex"]
    st["ifindex"] += 1
    k.m.write_u32(dev + k.S.net_device.ifindex, ifindex)
    k.m.write_u8(dev + k.S.net_device.reg_state, 1)  # NETREG_REGISTERED
    k.m.write_u64(dev + k.S.net_device.state, k.m.read_u64(dev + k.S.net_device.state) | 0x6)  # PRESENT, NOCARRIER
    st["netdevs"][dev] = name
    k.registry.add("netdev", name, dev, k.caller_module_name(), ifindex=ifindex)
    return 0


@kapi("unregister_netdevice_queue", "unregister_netdev", "unregister_netdevice")
def unregister_netdev(k: KernelApi, dev: int, head: int = 0) -> None:
    st = _st(k)
    if st["netdevs"].pop(dev, None) is None:
        return
    k.registry.remove("netdev", dev)
    ops = k.m.read_u64(dev + k.S.net_device.netdev_ops)
    uninit = k.m.read_u64(ops + k.S.net_device_ops.ndo_uninit) if ops else 0
    if uninit:
        k.m.call(uninit, dev)
    k.m.write_u8(dev + k.S.net_device.reg_state, 3)  # NETREG_UNREGISTERED
    destructor = k.m.read_u64(dev + k.S.net_device.priv_destructor)
    if destructor:
        k.m.call(destructor, dev)
    if k.m.read_u8(dev + k.S.net_device.needs_free_netdev) & 1:
        free_netdev(k, dev)


@kapi("unregister_netdevice_many")
def unregister_netdevice_many(k: KernelApi, head: int) -> None:
    return None


@kapi("free_netdev")
def free_netdev(k: KernelApi, dev: int) -> None:
    if dev and dev not in _st(k)["netdevs"]:
        k.m.write_u8(dev + k.S.net_device.reg_state, 4)  # NETREG_RELEASED
        k.kfree(k.m.read_u64(dev + k.S.net_device._tx))
        free_kernel_object(k, k.m.read_u64(dev + k.S.net_device.dev_addr), "dev_addr")  # dev_addr_flush()
        k.kfree(dev)


@kapi("dev_get_by_name", "__dev_get_by_name", "dev_get_by_index", "__dev_get_by_index", "dev_get_by_name_rcu",
      "dev_get_by_index_rcu")
def dev_get_by_name(k: KernelApi, net: int, key: int) -> int:
    st = _st(k)
    name = k.stub.name if k.stub else ""
    for dev, n in st["netdevs"].items():
        if "index" in name and k.m.read_u32(dev + k.S.net_device.ifindex) == key & 0xFFFFFFFF:
            return dev
        if "name" in name and n == k.cname(key):
            return dev
    return 0


@kapi("netif_carrier_on", "netif_carrier_off", "netif_tx_wake_queue", "netif_device_attach",
      "netif_device_detach", "netif_tx_stop_all_queues", "netif_schedule_queue", "__netif_schedule")
def netif_carrier(k: KernelApi, dev: int) -> None:
    return None


@kapi("netif_set_real_num_tx_queues", "netif_set_real_num_rx_queues", "netif_set_real_num_queues")
def netif_set_real_num_queues(k: KernelApi, dev: int, n: int) -> int:
    return 0


@kapi("dev_addr_mod")
def dev_addr_mod(k: KernelApi, dev: int, offset: int, addr: int, length: int) -> None:
    p = k.m.read_u64(dev + k.S.net_device.dev_addr)
    if p and length:
        k.m.write(p + offset, k.m.read(addr, length))


@kapi("eth_platform_get_mac_address", "device_get_mac_address", "of_get_mac_address")
def eth_platform_get_mac_address(k: KernelApi, dev: int, mac: int) -> int:
    return _err(19)


# -- protocols, link kinds, hooks, netlink families: recorded ----------------------------------------

def _record(kind: str, name_of=None):
    def handler(k: KernelApi, obj: int) -> int:
        name = name_of(k, obj) if name_of else f"{kind}@{obj:x}"
        k.registry.add(kind, name, obj, k.caller_module_name())
        return 0

    return handler


def _unrecord(kind: str):
    def handler(k: KernelApi, obj: int) -> None:
        k.registry.remove(kind, obj)

    return handler


kapi("sock_register")(_record("net_proto_family", lambda k, o: f"PF {k.m.read_u32(o)}"))


@kapi("sock_unregister")
def sock_unregister(k: KernelApi, family: int) -> None:
    reg = k.registry
    found = reg.find("net_proto_family", name=f"PF {family & 0xFFFFFFFF}")
    if found is not None:
        reg.remove("net_proto_family", found.obj)


kapi("proto_unregister")(_unrecord("proto"))
kapi("__rtnl_link_register", "rtnl_link_register")(
    _record("rtnl_link", lambda k, o: k.cname(k.m.read_u64(o + k.S.rtnl_link_ops.kind))))
kapi("rtnl_link_unregister", "__rtnl_link_unregister")(_unrecord("rtnl_link"))
kapi("genl_register_family")(_record("genl_family", lambda k, o: k.m.read(o + k.S.genl_family.name, 16)
                                     .split(b"\0", 1)[0].decode("utf-8", "replace")))
kapi("genl_unregister_family")(_unrecord("genl_family"))
kapi("dev_add_pack", "dev_add_offload")(_record("packet_type"))
kapi("dev_remove_pack", "__dev_remove_pack", "dev_remove_offload")(_unrecord("packet_type"))
kapi("register_netdevice_notifier")(_record("netdevice_notifier"))
kapi("unregister_netdevice_notifier")(_unrecord("netdevice_notifier"))
kapi("xfrm_register_type", "xfrm_register_km", "xfrm_state_register_afinfo", "tcp_register_congestion_control",
     "tcp_register_ulp", "register_qdisc", "register_tcf_proto_ops", "tcf_register_action",
     "register_inetaddr_notifier", "register_inet6addr_notifier",
     "ipv6_stub_register", "nf_register_queue_handler", "nf_ct_helper_register", "nf_conntrack_register_notifier",
     "register_ip_vs_scheduler", "xt_register_target", "xt_register_match", "nf_log_register",
     "nft_register_expr", "nft_register_obj", "nft_register_chain_type", "nf_register_sockopt")(
    _record("net_registration", lambda k, o: k.stub.name if k.stub else "net"))


@kapi("proto_register")
def proto_register(k: KernelApi, prot: int, alloc_slab: int) -> int:
    name = k.m.read(prot + k.S.proto.name, 32).split(b"\0", 1)[0].decode("utf-8", "replace")
    k.registry.add("proto", name, prot, k.caller_module_name())
    return 0


@kapi("inet_add_protocol", "inet6_add_protocol", "inet_add_offload", "inet6_add_offload")
def inet_add_protocol(k: KernelApi, prot: int, protocol: int) -> int:
    reg = k.registry
    kind = k.stub.name if k.stub else "inet_protocol"
    if any(r.kind == kind and r.info.get("protocol") == protocol & 0xFF for r in reg.items):
        return _err(1)  # -1 in the kernel: the slot is taken
    reg.add(kind, f"protocol {protocol & 0xFF}", prot, k.caller_module_name(), protocol=protocol & 0xFF)
    return 0


@kapi("inet_del_protocol", "inet6_del_protocol", "inet_del_offload", "inet6_del_offload")
def inet_del_protocol(k: KernelApi, prot: int, protocol: int) -> int:
    reg = k.registry
    for r in reg.items:
        if r.obj == prot and r.kind.startswith("inet"):
            reg.remove(r.kind, prot)
            return 0
    return _err(1)


@kapi("nf_register_net_hook")
def nf_register_net_hook(k: KernelApi, net: int, reg: int) -> int:
    k.registry.add("nf_hook", f"nf_hook@{reg:x}", reg, k.caller_module_name())
    return 0


@kapi("nf_register_net_hooks")
def nf_register_net_hooks(k: KernelApi, net: int, reg: int, n: int) -> int:
    for i in range(n & 0xFFFFFFFF):
        nf_register_net_hook(k, net, reg + i * k.S.nf_hook_ops.sizeof)
    return 0


@kapi("nf_unregister_net_hook")
def nf_unregister_net_hook(k: KernelApi, net: int, reg: int) -> None:
    k.registry.remove("nf_hook", reg)


@kapi("nf_unregister_net_hooks")
def nf_unregister_net_hooks(k: KernelApi, net: int, reg: int, n: int) -> None:
    for i in range(n & 0xFFFFFFFF):
        nf_unregister_net_hook(k, net, reg + i * k.S.nf_hook_ops.sizeof)


# -- IP fragment queues (net/ipv4/inet_fragment.c) ----------------------------------------------------

@kapi("fqdir_init")
def fqdir_init(k: KernelApi, fqdirp: int, f: int, net: int) -> int:
    fq = k.m.kmalloc(k.S.fqdir.sizeof, k.caller_module_name(), k.caller, kind="fqdir")
    k.m.write_u64(fq + k.S.fqdir.f, f)
    k.m.write_u64(fq + k.S.fqdir.net, net)
    k.m.write_u64(fqdirp, fq)
    return 0


@kapi("fqdir_exit")
def fqdir_exit(k: KernelApi, fq: int) -> None:
    k.kfree(fq)


@kapi("inet_frags_init")
def inet_frags_init(k: KernelApi, f: int) -> int:
    return 0


@kdata("net_namespace_list", size=16)
def net_namespace_list(k: KernelApi, addr: int) -> None:
    """The list of namespaces (for_each_net()): init_net alone."""
    net = init_net(k)
    node = net + k.S.net.list
    k.m.write_u64(addr, node)
    k.m.write_u64(addr + 8, node)
    k.m.write_u64(node, addr)
    k.m.write_u64(node + 8, addr)


# -- kernel sockets (net/socket.c) -----------------------------------------------------------------------

@kapi("sock_create_kern", "__sock_create")
def sock_create_kern(k: KernelApi, net: int, family: int, typ: int, protocol: int, res: int) -> int:
    """A socket and its sock, as the protocol's create() leaves them (family, type, protocol,
    namespace); the protocol's own state is zeroed."""
    if k.stub and k.stub.name == "__sock_create":
        res = k.m.arg(4)
    sock = k.m.kmalloc(k.S.socket.sizeof, k.caller_module_name(), k.caller, kind="socket")
    sk = k.m.kmalloc(4096, k.caller_module_name(), k.caller, kind="sock")
    k.m.write_u16(sock + k.S.socket.type, typ)
    k.m.write_u64(sock + k.S.socket.sk, sk)
    common = k.S.sock.__sk_common
    k.m.write_u16(sk + common + k.S.sock_common.skc_family, family)
    k.m.write_u64(sk + common + k.S.sock_common.skc_net, net)
    k.m.write_u16(sk + k.S.sock.sk_type, typ)
    k.m.write_u16(sk + k.S.sock.sk_protocol, protocol)
    k.m.write_u64(sk + k.S.sock.sk_socket, sock)
    k.m.write_u64(res, sock)
    k.registry.add("socket", f"family {family & 0xFFFF} type {typ & 0xFFFF}", sock, k.caller_module_name())
    return 0


@kapi("sock_release")
def sock_release(k: KernelApi, sock: int) -> None:
    if sock and k.registry.remove("socket", sock) is not None:
        k.kfree(k.m.read_u64(sock + k.S.socket.sk))
        k.kfree(sock)


# -- net/core/neighbour.c: the seq_file walk of a neighbour table (no neighbours here) ----------

@kapi("neigh_seq_start")
def neigh_seq_start(k: KernelApi, seq: int, pos: int, tbl: int, flags: int) -> int:
    """The header line (SEQ_START_TOKEN) at position 0; past it, nothing: the machine has no
    neighbour entries."""
    return 1 if k.m.read_u64(pos) == 0 else 0


@kapi("neigh_seq_next")
def neigh_seq_next(k: KernelApi, seq: int, v: int, pos: int) -> int:
    k.m.write_u64(pos, k.m.read_u64(pos) + 1)
    return 0


@kapi("neigh_seq_stop")
def neigh_seq_stop(k: KernelApi, seq: int, v: int) -> None:
    return None


# -- netdev_printk (net/core/dev.c) ------------------------------------------------------------------

def netdev_label(k: KernelApi, ndev: int) -> bytes:
    """netdev_name() and netdev_reg_state()."""
    name = k.m.read(ndev, 16).split(b"\0", 1)[0]
    if not name or b"%" in name:
        name = b"(unnamed net_device)"
    state = k.m.read_u8(ndev + k.S.net_device.reg_state) if k.btf_struct("net_device") else 1
    suffix = {0: b" (uninitialized)", 1: b"", 2: b" (unregistering)", 3: b" (unregistered)",
              4: b" (released)", 5: b" (dummy)"}.get(state, b" (unknown)")
    return name + suffix


def netdev_emit(k: KernelApi, level: int, ndev: int, text: bytes) -> int:
    prefix = bytes((1, 0x30 + level))
    if not ndev:
        return k.log.printk(prefix + b"(NULL net_device): " + text)
    parent = k.m.read_u64(ndev + k.S.net_device.dev + k.S.device.parent)
    if parent:
        head = f"{dev_driver_string(k, parent)} {dev_name(k, parent)} ".encode() + netdev_label(k, ndev) + b": "
        return k.log.printk(prefix + head + text, dev_info=dev_printk_info(k, parent))
    return k.log.printk(prefix + netdev_label(k, ndev) + b": " + text)


def _netdev_level(level: int):
    def handler(k: KernelApi, dev: int, fmt: int, args: VarArgs) -> None:
        netdev_emit(k, level, dev, k.format(fmt, args))

    return handler


for _lvl, _name in enumerate(("netdev_emerg", "netdev_alert", "netdev_crit", "netdev_err", "netdev_warn",
                              "netdev_notice", "netdev_info")):  # KERN_EMERG (0) .. KERN_INFO (6)
    kapi(_name)(_netdev_level(_lvl))


@kapi("netdev_printk")
def netdev_printk(k: KernelApi, level: int, dev: int, fmt: int, args: VarArgs) -> None:
    netdev_emit(k, _level_of(k, level), dev, k.format(fmt, args))
