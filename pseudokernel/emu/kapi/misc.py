"""What is left of the kernel a module's init commonly meets: firmware loading (no firmware
files on the reference machine), module requests, I/O regions and IRQs of
hardware that is not there, input devices, block device majors, capabilities.
"""

from __future__ import annotations

from errno import ENODEV, ENOENT

from . import KernelApi, VarArgs, kapi
from . import neg_errno as _err
from .device import dev_emit

# -- firmware (drivers/base/firmware_loader/main.c) ------------------------------------------------

def _fw_fail(k: KernelApi, fw_p: int, name: int, dev: int, warn: bool) -> int:
    if fw_p:
        k.m.write_u64(fw_p, 0)
    if warn and dev:
        dev_emit(k, 4, dev, f"Direct firmware load for {k.cname(name)} failed with error -2\n".encode())
    return _err(ENOENT)


@kapi("request_firmware")
def request_firmware(k: KernelApi, fw_p: int, name: int, dev: int) -> int:
    return _fw_fail(k, fw_p, name, dev, True)


@kapi("firmware_request_nowarn", "request_firmware_direct", "firmware_request_platform")
def firmware_request_nowarn(k: KernelApi, fw_p: int, name: int, dev: int) -> int:
    return _fw_fail(k, fw_p, name, dev, False)


@kapi("request_firmware_into_buf")
def request_firmware_into_buf(k: KernelApi, fw_p: int, name: int, dev: int) -> int:
    return _fw_fail(k, fw_p, name, dev, True)


@kapi("request_firmware_nowait")
def request_firmware_nowait(k: KernelApi, module: int, uevent: int, name: int, dev: int, gfp: int, context: int,
                            cont: int) -> int:
    """Asynchronous: the callback gets NULL once the task gives the CPU away."""
    from .sched import defer

    warn = bool(uevent & 1)

    def done(k: KernelApi) -> None:
        _fw_fail(k, 0, name, dev, warn)
        from .sched import _callback2

        _callback2(k, cont, 0, context, "firmware")

    defer(k, done)
    return 0


@kapi("release_firmware")
def release_firmware(k: KernelApi, fw: int) -> None:
    return None


# -- module requests -----------------------------------------------------------------------------

@kapi("__request_module")
def __request_module(k: KernelApi, wait: int, fmt: int, args: VarArgs) -> int:
    """modprobe is not run from inside the emulated kernel: the request is recorded."""
    name = k.format(fmt, args).decode("utf-8", "replace")
    k.registry.add("request_module", name, 0, k.caller_module_name())
    return 0


# -- I/O ports, memory regions, IRQs, DMA channels of absent hardware -------------------------------

@kapi("__request_region")
def __request_region(k: KernelApi, parent: int, start: int, n: int, name: int, flags: int) -> int:
    """The region is free unless the machine's own devices or another module hold it."""
    reg = k.registry
    end = start + n - 1
    for r in reg.of_kind("region"):
        if r.info["parent"] == parent and not (end < r.info["start"] or start > r.info["end"]):
            return 0
    res = k.m.kmalloc(k.S.resource.sizeof, k.caller_module_name(), k.caller, kind="resource")
    k.m.write_u64(res, start)
    k.m.write_u64(res + 8, end)
    k.m.write_u64(res + 16, name)
    reg.add("region", k.cname(name), res, k.caller_module_name(), parent=parent, start=start, end=end)
    return res


@kapi("__release_region")
def __release_region(k: KernelApi, parent: int, start: int, n: int) -> None:
    reg = k.registry
    for r in reg.of_kind("region"):
        if r.info["parent"] == parent and r.info["start"] == start:
            reg.remove("region", r.obj)
            return


@kapi("request_threaded_irq", "request_any_context_irq", "__request_percpu_irq", "request_nmi")
def request_threaded_irq(k: KernelApi, irq: int, handler: int, thread_fn: int, flags: int, name: int,
                         dev_id: int = 0) -> int:
    k.registry.add("irq", k.cname(name) if k.stub and k.stub.name != "__request_percpu_irq" else "",
                   irq & 0xFFFFFFFF, k.caller_module_name(), handler=handler, dev_id=dev_id)
    return 0


@kapi("free_irq")
def free_irq(k: KernelApi, irq: int, dev_id: int) -> int:
    k.registry.remove("irq", irq & 0xFFFFFFFF)
    return 0


@kapi("request_dma")
def request_dma(k: KernelApi, dmanr: int, device_id: int) -> int:
    return 0


@kapi("ioremap", "ioremap_cache", "ioremap_wc", "ioremap_uc", "ioremap_encrypted", "ioremap_prot", "memremap",
      "devm_ioremap", "devm_ioremap_wc", "devm_ioremap_uc", "devm_memremap", "acpi_os_map_memory",
      "acpi_os_map_iomem", "early_ioremap", "devm_ioremap_resource", "devm_platform_ioremap_resource")
def ioremap(k: KernelApi, phys: int, size: int) -> int:
    """Memory-mapped I/O of a device that is not there reads all ones (a real bus's answer)."""
    name = k.stub.name if k.stub else ""
    if name.startswith("devm_ioremap_resource") or name.startswith("devm_platform"):
        return _err(ENODEV)
    if name.startswith("devm"):
        size = k.m.arg(2)  # devm_ioremap(dev, offset, size)
    size = max(min(size, 1 << 24), 1)
    addr = k.m.vmalloc(size)
    if not addr:
        return 0
    k.m.write(addr, b"\xff" * size)
    return addr


@kapi("iounmap", "memunmap", "devm_iounmap", "acpi_os_unmap_memory", "acpi_os_unmap_iomem")
def iounmap(k: KernelApi, addr: int) -> None:
    if addr and k.m.vmalloc_area.find(addr):
        k.m.vfree(addr)


@kapi("ioread8", "ioread16", "ioread32", "ioread16be", "ioread32be", "ioread64_lo_hi", "ioread64_hi_lo")
def ioread(k: KernelApi, addr: int) -> int:
    name = k.stub.name if k.stub else "ioread32"
    bits = 8 if "8" in name else 16 if "16" in name else 64 if "64" in name else 32
    if addr < 0x10000:  # a port number
        return (1 << bits) - 1
    try:
        return int.from_bytes(k.m.read(addr, bits // 8), "little")
    except Exception:
        return (1 << bits) - 1


@kapi("iowrite8", "iowrite16", "iowrite32", "iowrite16be", "iowrite32be", "iowrite64_lo_hi", "iowrite64_hi_lo")
def iowrite(k: KernelApi, value: int, addr: int) -> None:
    return None


@kapi("capable", "ns_capable", "ns_capable_noaudit", "ns_capable_setid", "file_ns_capable", "has_capability",
      "capable_wrt_inode_uidgid")
def capable(k: KernelApi, cap: int) -> int:
    return 1  # insmod runs as root


@kapi("get_random_bytes")
def get_random_bytes(k: KernelApi, buf: int, n: int) -> None:
    if n:
        k.m.write(buf, k.m.rand.bytes(n & 0xFFFFFFFF))


@kapi("get_random_u32", "get_random_u16", "get_random_u8", "prandom_u32", "get_random_int")
def get_random_u32(k: KernelApi) -> int:
    return k.m.rand.next() & 0xFFFFFFFF


@kapi("get_random_u64", "get_random_long")
def get_random_u64(k: KernelApi) -> int:
    return k.m.rand.next()


@kapi("dmi_check_system")
def dmi_check_system(k: KernelApi, table: int) -> int:
    return 0  # QEMU's SMBIOS matches no laptop or board quirk table


@kapi("dmi_get_system_info")
def dmi_get_system_info(k: KernelApi, field: int) -> int:
    values = {0: "SeaBIOS", 1: "1.16.2-debian-1.16.2-1", 2: "04/01/2014", 4: "QEMU",
              5: "Standard PC (i440FX + PIIX, 1996)", 6: "pc-i440fx-7.2", 15: "QEMU", 16: "pc-i440fx-7.2"}
    v = values.get(field & 0xFFFFFFFF)
    return k.static_string(v) if v else 0


@kapi("dmi_match")
def dmi_match(k: KernelApi, field: int, s: int) -> int:
    v = dmi_get_system_info(k, field)
    return int(bool(v) and s != 0 and k.cstr(s) in k.cstr(v))


@kapi("dmi_name_in_vendors", "dmi_name_in_serial")
def dmi_name_in_vendors(k: KernelApi, s: int) -> int:
    return int(k.cstr(s) in (b"QEMU", b"SeaBIOS"))


AE_NOT_FOUND = 5


@kapi("acpi_get_table")
def acpi_get_table(k: KernelApi, signature: int, instance: int, out_table: int) -> int:
    """QEMU's ACPI tables: RSDT, FACP, DSDT, FACS, APIC, HPET, WAET; no table a module looks
    for at init (EINJ, ERST, SRAT, ...) is there."""
    if out_table:
        k.m.write_u64(out_table, 0)
    return AE_NOT_FOUND


@kapi("acpi_get_handle")
def acpi_get_handle(k: KernelApi, parent: int, pathname: int, ret_handle: int) -> int:
    return AE_NOT_FOUND


@kapi("acpi_evaluate_object", "acpi_evaluate_integer", "acpi_walk_namespace", "acpi_get_devices")
def acpi_evaluate_object(k: KernelApi, handle: int) -> int:
    return AE_NOT_FOUND


@kapi("acpi_dev_present", "acpi_dev_found", "acpi_has_method")
def acpi_dev_present(k: KernelApi, hid: int) -> int:
    return 0


@kapi("kernel_fpu_begin_mask", "kernel_fpu_end")
def kernel_fpu_begin_mask(k: KernelApi) -> None:
    return None


# -- EDAC ownership (drivers/edac/edac_mc.c, drivers/acpi/apei/ghes.c) -----------------------------

@kapi("edac_get_owner")
def edac_get_owner(k: KernelApi) -> int:
    """No EDAC driver has claimed the machine yet: edac_mc_owner is NULL (an invented owner made
    every EDAC driver refuse with -EBUSY, "another driver is loaded")."""
    return 0


@kapi("ghes_get_devices")
def ghes_get_devices(k: KernelApi) -> int:
    """6.12: no firmware-first (APEI GHES) error reporting on this machine, so NULL and the
    platform EDAC drivers may probe (with GHES they would step aside with -EBUSY)."""
    return 0
