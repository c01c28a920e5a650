"""Harness.run_one(): one test case through the syscall, and the invariants checked after it
(see the package's docstring)."""


from __future__ import annotations

import errno
import hashlib
import os
import random
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

from .mutate import (
    CODE_REASONS,
    ERRNO_NAMES,
    HELLO,
    O_NONBLOCK,
    O_TRUNC,
    ROOT,
    SILENT_REASONS,
    Case,
    Seed,
    Source,
    build_case,
    load_seeds,
)


class Finding(Exception):
    """An invariant broke: the harness reports the recipe with this."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class Stats:
    execs: int = 0
    kernels: int = 0
    outcomes: Counter = field(default_factory=Counter)
    silent: Counter = field(default_factory=Counter)
    findings: list[tuple[str, str, bytes]] = field(default_factory=list)  # kind, detail, recipe
    slowest: list[tuple[float, bytes]] = field(default_factory=list)
    seconds: float = 0.0


class Harness:
    """Runs recipes against a Kernel it replaces now and then."""

    def __init__(self, profile=None, *, seeds: list[Seed] | None = None, budget: float = 0.05,
                 kernel_lifetime: int = 400, probe_every: int = 50, views_every: int = 1, debian: int = 48) -> None:
        from pseudokernel.profile import KernelProfile

        self.profile = profile or KernelProfile.load()
        _ = self.profile.exports, self.profile.kallsyms, self.profile.btf
        name_field = 24
        btf = self.profile.btf
        if btf is not None and btf.struct("module") is not None:
            name_field = btf.struct("module").members["name"].offset
        self.seeds = seeds if seeds is not None else load_seeds(debian, name_field)
        self.budget = budget
        self.kernel_lifetime = kernel_lifetime
        self.probe_every = probe_every
        self.views_every = views_every
        self.hello = HELLO.read_bytes()
        self.stats = Stats()
        self.kernel = None
        self.root = None
        self.age = 0
        self.dirty = False
        self.journal: int | None = None  # a file descriptor: the recipes run on the current kernel

    # -- kernel lifecycle ----------------------------------------------------------------------

    def fresh_kernel(self) -> None:
        from pseudokernel.fs import build_root
        from pseudokernel.kernel import Kernel

        if self.kernel is not None:
            self.kernel.close()
        self.kernel = Kernel(self.profile, budget=self.budget, seed=self.stats.kernels)
        self.root = build_root(self.kernel, boot_time=1.0)
        self.stats.kernels += 1
        if self.journal is not None:
            os.ftruncate(self.journal, 0)
            os.lseek(self.journal, 0, os.SEEK_SET)
        self.age = 0
        self.dirty = False
        self.ran_code = False  # module code ran on this kernel (it may have scribbled on it)

    def retire_kernel(self) -> None:
        """Probe the old kernel once more, then start a new one."""
        if self.kernel is not None and not self.dirty:
            self.probe()
        self.fresh_kernel()

    # -- invariants ----------------------------------------------------------------------------

    def proc_modules(self) -> bytes:
        from pseudokernel.fs.tree import Reader, lookup

        node = lookup(self.root, "/proc/modules")
        return node.read(Reader())

    def check_views(self) -> None:
        from pseudokernel.module.module import State

        text = self.proc_modules().decode("utf-8", "replace")
        formed = [m for m in self.kernel.modules if m.state != State.UNFORMED]
        pos = 0
        for mod in formed:  # one line each, after a name that may hold newlines (as the kernel's)
            if not text.startswith(mod.name + " ", pos):
                raise Finding("proc-modules", f"{text[pos:pos + 80]!r} where {mod.name!r} was due")
            end = text.find("\n", pos + len(mod.name))
            if end < 0:
                raise Finding("proc-modules", f"unterminated line for {mod.name!r}")
            pos = end + 1
        if pos != len(text):
            raise Finding("proc-modules", f"{text[pos:pos + 80]!r} after the {len(formed)} formed modules")

    def snapshot(self):
        k = self.kernel
        m = k.machine
        return ([(id(mod), mod.state) for mod in k.modules], m.modules_area.used, m.percpu.reserved.used)

    def probe(self) -> None:
        """hello.ko loads and unloads on this kernel. Module code that ran before may have
        written anywhere in the kernel's memory, as on a real kernel: a probe that then fails
        in hello's own code (its init or parameter op stopped) is counted, not a finding."""
        from pseudokernel.module import LoadError

        k = self.kernel
        if k.find_module("hello", even_unformed=True) is not None:
            return
        try:
            mod = k.finit_module(self.hello, "count=2")
            k.delete_module(mod.name)
        except LoadError as e:
            if self.ran_code and e.reason in CODE_REASONS:
                self.stats.outcomes["probe-after-module-code:" + e.reason] += 1
                self.dirty = True
                return
            raise Finding("probe", f"hello.ko after fuzzing: {e.name} {e.reason}") from e
        except Exception as e:  # noqa: BLE001
            raise Finding("probe", f"hello.ko after fuzzing: {type(e).__name__}: {e}") from e

    def unload(self, mod) -> None:
        k = self.kernel
        try:
            k.delete_module(mod.name)
        except OSError as e:
            if not isinstance(e.errno, int) or e.errno not in ERRNO_NAMES:
                raise Finding("errno", f"delete_module raised {e!r}") from e
            if e.errno in (errno.EBUSY, errno.EWOULDBLOCK):
                try:
                    k.delete_module(mod.name, O_NONBLOCK | O_TRUNC)  # rmmod -f (MODULE_FORCE_UNLOAD)
                    return
                except OSError as e2:
                    if not isinstance(e2.errno, int) or e2.errno not in ERRNO_NAMES:
                        raise Finding("errno", f"delete_module -f raised {e2!r}") from e2
            self.dirty = True  # the exit faulted, or the name cannot be given: leave it to the next kernel
            self.stats.outcomes["unload:" + errno.errorcode.get(e.errno, "?")] += 1
        except Exception as e:
            raise Finding("exception", "delete_module: " + "".join(traceback.format_exception(e))) from e

    def execute(self, case: Case) -> str:
        """One system call and its checks; returns the outcome name or raises Finding."""
        from pseudokernel.module import LoadError
        from pseudokernel.module.module import State

        k = self.kernel
        before, area, pcpu = self.snapshot()
        seq = k.log.next_seq
        err = None
        try:
            if case.entry == "init":
                mod = k.init_module(case.data, case.args)
            else:
                mod = k.finit_module(case.data, case.args, case.flags)
        except LoadError as e:
            err = e
        except Exception as e:
            raise Finding("exception", "".join(traceback.format_exception(e))) from e
        if err is None or err.reason in CODE_REASONS:
            self.ran_code = True
        if err is not None:
            # init's own return value goes back as it is (a module may return any negative int)
            if not isinstance(err.errno, int) or err.errno <= 0 or (err.errno not in ERRNO_NAMES and err.reason != "init"):
                raise Finding("errno", f"LoadError with errno {err.errno!r} ({err.reason})")
            after, area2, pcpu2 = self.snapshot()
            left = after[: len(after) - len(before)]
            if after[len(left) :] != before:
                raise Finding("state", f"module list changed by a failed load ({err.reason}): {before} -> {after}")
            if left:
                mod = k.modules[0]
                if len(left) > 1 or mod.state != State.COMING:
                    raise Finding("state", f"failed load ({err.name} {err.reason}) left {mod.name!r} {mod.state.name}")
                self.dirty = True  # an oops left it COMING, as the kernel does
            elif (area2, pcpu2) != (area, pcpu):
                raise Finding("leak", f"module memory {area}->{area2}, percpu {pcpu}->{pcpu2} after {err.name} {err.reason}")
            if k.log.next_seq == seq:
                self.stats.silent[f"{err.name} {err.reason}"] += 1
                if err.reason not in SILENT_REASONS:
                    raise Finding("silent", f"{err.name} ({err.reason}) and no kernel line")
            return err.name
        if mod.state != State.LIVE or not k.modules or k.modules[0] is not mod:
            raise Finding("state", f"finit_module returned {mod.name!r} in state {mod.state.name}")
        self.unload(mod)
        if not self.dirty:
            after, area2, pcpu2 = self.snapshot()
            if after != before:
                raise Finding("state", f"module list after load and unload: {before} -> {after}")
            if (area2, pcpu2) != (area, pcpu):
                raise Finding("leak", f"module memory {area}->{area2}, percpu {pcpu}->{pcpu2} after load+unload")
        return "LIVE"

    def run_one(self, recipe: bytes, seed_name: str | None = None) -> str:
        if self.kernel is None:
            self.fresh_kernel()
        case = build_case(recipe, self.seeds, seed_name)
        if self.journal is not None:
            os.write(self.journal, f"{case.seed} {recipe.hex()}\n".encode())
        t0 = time.perf_counter()
        outcome = self.execute(case)
        dt = time.perf_counter() - t0
        st = self.stats
        st.execs += 1
        st.outcomes[outcome] += 1
        if len(st.slowest) < 5 or dt > st.slowest[-1][0]:
            st.slowest = sorted(st.slowest + [(dt, recipe)], key=lambda x: -x[0])[:5]
        self.age += 1
        if self.views_every and self.age % self.views_every == 0:
            self.check_views()
        if self.probe_every and self.age % self.probe_every == 0 and not self.dirty:
            self.probe()
        if self.dirty or self.age >= self.kernel_lifetime:
            self.retire_kernel()
        return outcome

    def run_safely(self, recipe: bytes, seed_name: str | None = None) -> str:
        """run_one(), turning a broken invariant into a recorded finding and a fresh kernel."""
        try:
            return self.run_one(recipe, seed_name)
        except Finding as f:
            kind, detail = f.kind, f.detail
        except Exception as e:  # the views, the probe or the harness itself
            kind, detail = "exception", "".join(traceback.format_exception(e))
        self.stats.execs += 1
        self.stats.findings.append((kind, detail, recipe))
        self.fresh_kernel()
        return "finding:" + kind


def random_recipes(seed: int, length: int = 160):
    rng = random.Random(seed)
    while True:
        yield rng.randbytes(rng.choice((8, 24, 64, length, length)))


def fuzz(runs: int | None = None, seconds: float | None = None, *, seed: int = 0, harness: Harness | None = None,
         progress=None) -> Stats:
    """The random engine: `runs` recipes or `seconds` of them, whichever ends first."""
    h = harness or Harness()
    t0 = time.monotonic()
    last = t0
    for i, recipe in enumerate(random_recipes(seed)):
        if runs is not None and i >= runs:
            break
        now = time.monotonic()
        if seconds is not None and now - t0 >= seconds:
            break
        h.run_safely(recipe)
        if progress and now - last >= 10:
            last = now
            progress(h.stats, now - t0)
    h.stats.seconds = time.monotonic() - t0
    return h.stats


def finding_id(kind: str, detail: str) -> str:
    """A stable name for a finding: its kind, and for an exception its type and innermost frames."""
    lines = detail.strip().splitlines()
    if kind == "exception":
        frames = [ln.strip() for ln in lines if ln.strip().startswith("File ")]
        key = "|".join(frames[-3:]) + "|" + (lines[-1].split(":", 1)[0] if lines else "")
        if any("/emu/kapi/" in f for f in frames):  # raised by a kernel function's handler
            kind = "exception-kapi"
    else:
        key = kind + (lines[0][:40] if lines else "")
    return kind + "-" + hashlib.sha1(key.encode()).hexdigest()[:10]


def seed_of(recipe: bytes, names: list[str]) -> str:
    """The name of the seed a recipe picks from seeds with these names."""
    return names[Source(recipe).below(len(names))]


def describe(recipe: bytes, seeds: list[Seed], seed_name: str | None = None) -> str:
    c = build_case(recipe, seeds, seed_name)
    return f"seed={c.seed} entry={c.entry} flags={c.flags:#x} ops={c.ops} len={len(c.data)} args={c.args[:80]!r}"


if __name__ == "__main__":  # pragma: no cover
    import sys

    os.execv(str(ROOT / "scripts" / "fuzz"), [str(ROOT / "scripts" / "fuzz"), *sys.argv[1:]])
