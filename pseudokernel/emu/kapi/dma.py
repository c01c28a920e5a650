"""The DMA API with direct mapping (kernel/dma/direct.c, mapping.c): the reference machine has
no IOMMU, so a buffer's DMA address is its physical address, virt_to_phys() of the kernel's
direct map; coherent buffers are whole zeroed pages of the guest's low memory. The device's masks are accepted (every
address here is below 4 GiB of physical memory)."""

from __future__ import annotations

from . import KernelApi, kapi
from .devres import RELEASERS, devres_track
from .mm import page_address

PAGE_OFFSET = 0xFFFF888000000000  # page_offset_base without KASLR: the direct map


def virt_to_phys(addr: int) -> int:
    return addr - PAGE_OFFSET


@kapi("dma_alloc_attrs")
def dma_alloc_attrs(k: KernelApi, dev: int, size: int, handle: int, gfp: int, attrs: int) -> int:
    cpu = k.m.dma_alloc(size)
    if cpu is None:
        return 0
    k.m.write_u64(handle, virt_to_phys(cpu))
    return cpu


def dma_free(k: KernelApi, cpu: int, size: int = 0) -> None:
    k.m.vfree(cpu, k.m.dma_area)


RELEASERS["dma"] = dma_free  # a dmam_alloc_coherent buffer, at devres_release_all()


@kapi("dma_free_attrs")
def dma_free_attrs(k: KernelApi, dev: int, size: int, cpu: int, handle: int, attrs: int) -> None:
    dma_free(k, cpu)


@kapi("dmam_alloc_attrs")
def dmam_alloc_attrs(k: KernelApi, dev: int, size: int, handle: int, gfp: int, attrs: int) -> int:
    """dmam_alloc_coherent(): freed with the device (devres)."""
    cpu = dma_alloc_attrs(k, dev, size, handle, gfp, attrs)
    if cpu:
        devres_track(k, dev, "dma", cpu, size)
    return cpu


@kapi("dmam_free_coherent")
def dmam_free_coherent(k: KernelApi, dev: int, size: int, cpu: int, handle: int) -> None:
    mine = k.state.get("devres", {}).get(dev, [])
    if ("dma", cpu, size) in mine:
        mine.remove(("dma", cpu, size))
    dma_free(k, cpu)


@kapi("dma_map_page_attrs")
def dma_map_page_attrs(k: KernelApi, dev: int, page: int, offset: int, size: int, direction: int, attrs: int) -> int:
    return virt_to_phys(page_address(k, page)) + offset


@kapi("dma_map_single_attrs")
def dma_map_single_attrs(k: KernelApi, dev: int, ptr: int, size: int, direction: int, attrs: int) -> int:
    return virt_to_phys(ptr)


@kapi("dma_unmap_page_attrs", "dma_unmap_single_attrs", "dma_sync_single_for_cpu", "dma_sync_single_for_device",
      "__dma_sync_single_for_cpu", "__dma_sync_single_for_device")
def dma_unmap(k: KernelApi, dev: int, addr: int) -> None:
    return None


@kapi("dma_set_mask", "dma_set_coherent_mask")
def dma_set_mask(k: KernelApi, dev: int, mask: int) -> int:
    return 0


@kapi("dma_mapping_error")
def dma_mapping_error(k: KernelApi, dev: int, addr: int) -> int:
    return 0

