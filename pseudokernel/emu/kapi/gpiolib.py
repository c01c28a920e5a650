"""GPIO on a machine with no GPIO controller (drivers/gpio/gpiolib.c, gpiolib-legacy.c): the
reference machine (QEMU's i440FX) has no gpiochip, so no number has a descriptor. A valid
number (0 <= n < CONFIG_ARCH_NR_GPIO, 1024 in Debian's 6.1; any n >= 0 from 6.2 on, which
dropped the bound) may belong to a controller that has not probed yet: requesting
it is -EPROBE_DEFER, and a driver that passes that on fails to load, as it does there. The
descriptor calls on a NULL descriptor do nothing and return 0 (VALIDATE_DESC), gpio_to_irq()
is -EINVAL, a lookup by function (gpiod_get) finds nothing: -ENOENT, or NULL for _optional.
6.1's gpio_to_desc() warns "invalid GPIO N" for a number past the bound, and the legacy
gpio_request, gpio_request_one and gpio_free go through it (6.12's warns no more)."""

from __future__ import annotations

from errno import EINVAL, ENOENT

from . import KernelApi, kapi
from . import neg_errno as _err

EPROBE_DEFER = 517


def gpio_is_valid(k: KernelApi, n: int) -> bool:
    n &= 0xFFFFFFFF
    n = n - (1 << 32) if n >> 31 else n
    bound = k.profile.config_int("ARCH_NR_GPIO", 0)  # 6.1's asm-generic/gpio.h; gone in 6.2
    return 0 <= n and (not bound or n < bound)


def _to_desc(k: KernelApi, gpio: int) -> int:
    """gpio_to_desc(): no controller owns any number, so NULL; 6.1 says so of an invalid one."""
    if k.profile.config_int("ARCH_NR_GPIO", 0) and not gpio_is_valid(k, gpio):
        n = gpio & 0xFFFFFFFF
        k.log.printk(f"\x014invalid GPIO {n - (1 << 32) if n >> 31 else n}\n")
    return 0


@kapi("gpio_request", "gpio_request_one")
def gpio_request(k: KernelApi, gpio: int) -> int:
    _to_desc(k, gpio)
    return _err(EPROBE_DEFER) if gpio_is_valid(k, gpio) else 0  # gpiod_request(NULL): VALIDATE_DESC


@kapi("gpio_free")
def gpio_free(k: KernelApi, gpio: int) -> None:
    _to_desc(k, gpio)  # gpiod_free(NULL) does nothing


@kapi("gpio_free_array")
def gpio_free_array(k: KernelApi, array: int, num: int) -> None:
    for i in range(num & 0xFFFFFFFF):
        gpio_free(k, k.m.read_u32(array + 24 * i))


@kapi("devm_gpio_request", "devm_gpio_request_one")
def devm_gpio_request(k: KernelApi, dev: int, gpio: int) -> int:
    return gpio_request(k, gpio)


@kapi("gpio_request_array")
def gpio_request_array(k: KernelApi, array: int, num: int) -> int:
    """struct gpio { unsigned gpio; unsigned long flags; const char *label; }: the first that
    fails ends it (those before are freed, which here is nothing)."""
    for i in range(num & 0xFFFFFFFF):
        gpio = k.m.read_u32(array + 24 * i)
        err = gpio_request(k, gpio)
        if err:
            for j in range(i - 1, -1, -1):
                gpio_free(k, k.m.read_u32(array + 24 * j))
            return err
    return 0


@kapi("gpio_to_desc")
def gpio_to_desc(k: KernelApi, gpio: int) -> int:
    return _to_desc(k, gpio)


@kapi("gpio_to_irq", "gpiod_to_irq", "__gpio_to_irq")
def gpio_to_irq(k: KernelApi, gpio: int) -> int:
    return _err(EINVAL)


@kapi("gpiod_put", "devm_gpiod_put", "gpiod_set_value", "gpiod_set_raw_value",
      "gpiod_set_value_cansleep", "gpiod_set_raw_value_cansleep", "__gpio_set_value", "gpio_set_value")
def gpio_void(k: KernelApi, desc: int) -> None:
    return None


@kapi("gpiod_direction_input", "gpiod_direction_output", "gpiod_direction_output_raw", "gpiod_get_value",
      "gpiod_get_raw_value", "gpiod_get_value_cansleep", "gpiod_get_raw_value_cansleep", "gpio_direction_input",
      "gpio_direction_output", "__gpio_get_value", "gpio_get_value", "gpiod_set_debounce", "gpiod_get_direction",
      "gpiod_set_consumer_name")
def gpio_zero(k: KernelApi, desc: int) -> int:
    return 0


@kapi("gpiod_get", "gpiod_get_index", "devm_gpiod_get", "devm_gpiod_get_index", "fwnode_gpiod_get_index",
      "devm_fwnode_gpiod_get_index", "gpiod_get_array", "devm_gpiod_get_array")
def gpiod_get(k: KernelApi, dev: int) -> int:
    return _err(ENOENT)


@kapi("gpiod_get_optional", "gpiod_get_index_optional", "devm_gpiod_get_optional", "devm_gpiod_get_index_optional",
      "gpiod_get_array_optional", "devm_gpiod_get_array_optional")
def gpiod_get_optional(k: KernelApi, dev: int) -> int:
    return 0
