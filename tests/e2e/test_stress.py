"""200 modules dropped at once (the fixtures and Debian's) while every file of the mount is read
in a loop: no load lost or doubled, no read error, the same daemon throughout."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import RELEASE
from pkrun import pk
from realref import PREBUILT

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


def pick_debian_modules(tree: Path, n: int, seed: int = 1) -> list[Path]:
    """n modules whose dependencies are all among them (so each can load in some order)."""
    from pseudokernel.kmod.depmod import depmod

    base = tree / "lib/modules" / RELEASE
    d = depmod(str(base))
    deps = {}
    for line in d.modules_dep_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    rng = random.Random(seed)
    chosen: dict[str, None] = {}
    paths = sorted(deps)
    rng.shuffle(paths)
    for p in paths:
        need = [p, *deps[p]]
        if len(chosen) + len([x for x in need if x not in chosen]) > n:
            continue
        for x in need:
            chosen[x] = None
        if len(chosen) >= n:
            break
    names = {}
    for p in chosen:
        names.setdefault(Path(p).name, base / p)  # one file per base name in the flat folder
    return list(names.values())


def recorded_error(mount: Path, path: str, err: int) -> bool:
    """The reference machine's own /sys file gave this error when it was recorded (an IO BAR,
    pm_wakeup_irq's ENODATA ...): the mount gives it too (fs/recorded.py)."""
    import errno as errnos

    from pseudokernel.profile import KernelProfile

    rec = KernelProfile.load().recorded_sysfs
    found = rec.entries.get(os.path.relpath(path, mount / "sys")) if rec else None
    return found is not None and getattr(errnos, found[3].partition(":")[2], None) == err


def reader(mount: Path, stop: threading.Event, errors: list[str], reads: list[int]) -> None:
    while not stop.is_set():
        for dirpath, dirs, files in os.walk(mount):
            if dirpath == str(mount) and "dev" in dirs:
                dirs.remove("dev")  # devices never end (zero, random) or block (kmsg)
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    if f in ("uevent", "autosuspend_delay_ms"):
                        continue  # write-only; EIO on a device without autosuspend, as the kernel says
                    with open(p, "rb") as fh:
                        fh.read()
                    reads[0] += 1
                except FileNotFoundError:
                    pass  # a module left between the listing and the read
                except PermissionError:
                    pass  # write-only attribute files
                except OSError as e:
                    if not recorded_error(mount, p, e.errno):
                        errors.append(f"{p}: {e}")


def test_two_hundred_modules_with_readers(tree, tmp_path):
    mount, drop, stage = tmp_path / "mnt", tmp_path / "drop", tmp_path / "stage"
    stage.mkdir()
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")
    fixtures = ["hello", "exporter", "importer", "params", "noexit", "proprietary", "propuser", "staging", "retpos",
                "enomem", "unknown_sym", "eperm"]
    for name in fixtures:
        shutil.copy(PREBUILT / f"{name}.ko", stage)
    for p in pick_debian_modules(tree, 200 - len(fixtures)):
        if not (stage / p.name).exists():
            shutil.copy(p, stage)
    files = sorted(x.name for x in stage.iterdir())
    assert len(files) >= 190
    assert pk("up", "--drop", str(drop), "--budget", "5", mount=mount).returncode == 0
    st = json.loads(pk("status", "--json", mount=mount).stdout)
    stop, errors, reads = threading.Event(), [], [0]
    threads = [threading.Thread(target=reader, args=(mount, stop, errors, reads)) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        subprocess.run(f"cp {stage}/*.ko {drop}/", shell=True, check=True)
        events_file = Path(st["events"])
        last, quiet_since = -1, time.monotonic()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            n = len(events_file.read_text().splitlines())
            seen = {json.loads(line)["file"] for line in events_file.read_text().splitlines()}
            if n != last:
                last, quiet_since = n, time.monotonic()
            elif len(seen) >= len(files) and time.monotonic() - quiet_since > 3:
                break
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
        events = [json.loads(line) for line in events_file.read_text().splitlines()]
        final = {}
        for e in events:
            final[os.path.basename(e["file"])] = e
        assert sorted(final) == files, "every file has an outcome"
        lives: dict[str, int] = {}
        for e in events:
            if e["result"] == "live":
                lives[e["name"]] = lives.get(e["name"], 0) + 1
        assert all(v == 1 for v in lives.values()), {k: v for k, v in lives.items() if v > 1}
        loaded = {line.split()[0] for line in (mount / "proc/modules").read_text().splitlines()}
        assert set(lives) <= loaded
        assert not errors, errors[:10]
        assert reads[0] > 100
        assert json.loads(pk("status", "--json", mount=mount).stdout)["pid"] == st["pid"]
        for name in ("enomem", "eperm", "unknown_sym"):
            assert final[f"{name}.ko"]["result"] != "live"
        assert final["hello.ko"]["result"] == "live" and final["importer.ko"]["result"] == "live"
    finally:
        stop.set()
        pk("down", mount=mount)
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)
