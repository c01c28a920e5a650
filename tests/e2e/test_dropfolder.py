"""The drop folder as users feed it: cp, mv, slow writers, floods, replacements, deletions,
parameter files, a restart that replays the folder, the events file and `pseudokernel wait`."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from pkrun import daemon_at, pk, wait_for
from realref import PREBUILT

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


@pytest.fixture
def daemon(tmp_path):
    yield from daemon_at(tmp_path, "--budget", "2")


def loaded(mount: Path) -> list[str]:
    """The modules that are Live (one still in its init shows as Loading)."""
    return [line.split()[0] for line in (mount / "proc/modules").read_text().splitlines() if " Live " in line]


def events(mount: Path) -> list[dict]:
    st = json.loads(pk("status", "--json", mount=mount).stdout)
    return [json.loads(line) for line in Path(st["events"]).read_text().splitlines()]


def test_copy_then_delete(daemon):
    mount, drop = daemon
    shutil.copy(PREBUILT / "hello.ko", drop)
    r = pk("wait", "hello", mount=mount)
    assert r.returncode == 0, r.stderr
    assert loaded(mount) == ["hello"]
    (drop / "hello.ko").unlink()
    assert wait_for(lambda: loaded(mount) == [])

    def acts() -> list[tuple]:  # the event is written once delete_module has returned
        return [(e["action"], e["name"], e["result"]) for e in events(mount)]

    assert wait_for(lambda: len(acts()) == 2)
    assert acts() == [("load", "hello", "live"), ("unload", "hello", "unloaded")]


def test_move_in_loads_once(daemon, tmp_path):
    mount, drop = daemon
    outside = tmp_path / "outside.ko"
    shutil.copy(PREBUILT / "exporter.ko", outside)
    os.rename(outside, drop / "exporter.ko")  # same file system: IN_MOVED_TO
    assert pk("wait", "exporter", mount=mount).returncode == 0
    time.sleep(0.6)
    assert [e["result"] for e in events(mount)] == ["live"]


def test_half_written_file_is_not_loaded_until_closed(daemon):
    mount, drop = daemon
    data = (PREBUILT / "hello.ko").read_bytes()
    with open(drop / "hello.ko", "wb") as f:
        f.write(data[:5000])
        f.flush()
        time.sleep(1.0)  # the creation event fires; the file is still open for writing
        assert loaded(mount) == []
        f.write(data[5000:])
    assert pk("wait", "hello", mount=mount).returncode == 0
    assert loaded(mount) == ["hello"]
    assert [e["result"] for e in events(mount)] == ["live"]


def test_flood_in_any_order_all_load_with_retries(daemon, tmp_path):
    """cp *.ko: the importer may arrive before its exporter; it is retried once the exporter
    is in, and the retry shows in dmesg (its Unknown symbol lines, then its init's output)."""
    mount, drop = daemon
    names = ["importer", "propuser", "exporter", "proprietary", "hello", "params", "staging", "retpos", "noexit"]
    staging = tmp_path / "stage"
    staging.mkdir()
    for n in names:
        shutil.copy(PREBUILT / f"{n}.ko", staging)
    subprocess.run(f"cp {staging}/*.ko {drop}/", shell=True, check=True)
    assert wait_for(lambda: sorted(loaded(mount)) == sorted(names), 60), loaded(mount)
    results = {}
    for e in events(mount):
        results.setdefault(e["name"], []).append(e["result"])
    assert all(r[-1] == "live" for r in results.values())
    dmesg = (mount / "dmesg").read_text()
    assert "importer: exporter_add(1, 2) = 45" in dmesg


def test_replace_reloads_and_delete_in_use_stays(daemon, tmp_path):
    mount, drop = daemon
    shutil.copy(PREBUILT / "exporter.ko", drop)
    assert pk("wait", "exporter", mount=mount).returncode == 0
    shutil.copy(PREBUILT / "importer.ko", drop)
    assert pk("wait", "importer", mount=mount).returncode == 0
    (drop / "exporter.ko").unlink()  # in use by importer: the kernel refuses, it stays
    time.sleep(1.0)
    assert "exporter" in loaded(mount)
    last = events(mount)[-1]
    assert (last["action"], last["errno"], last["users"]) == ("unload", errno.EWOULDBLOCK, ["importer"])
    # replacing importer.ko with a new build: unload, then load the new one
    data = bytearray((PREBUILT / "importer.ko").read_bytes())
    data += b"\0" * 16  # a different file, the same module
    (drop / "importer.ko").write_bytes(bytes(data))
    assert wait_for(lambda: [e["action"] for e in events(mount)][-2:] == ["unload", "load"])
    assert loaded(mount).count("importer") == 1


def test_params_file_beside_the_module(daemon):
    mount, drop = daemon
    (drop / "hello.params").write_text("# greetings\noptions hello count=2\nwho=params\n")
    shutil.copy(PREBUILT / "hello.ko", drop)
    assert pk("wait", "hello", mount=mount).returncode == 0
    assert (mount / "sys/module/hello/parameters/count").read_text() == "2\n"
    assert (mount / "sys/module/hello/parameters/who").read_text() == "params\n"
    # changing the parameters reloads the module with the new ones (a read that meets the
    # module between its unload and its load fails, ENOENT or ENODEV, as sysfs's would)
    (drop / "hello.params").write_text("count=4\n")

    def count() -> str:
        try:
            return (mount / "sys/module/hello/parameters/count").read_text()
        except OSError:
            return ""

    assert wait_for(lambda: count() == "4\n")


def test_failed_load_reported_like_insmod(daemon):
    mount, drop = daemon
    shutil.copy(PREBUILT / "enomem.ko", drop)
    r = pk("wait", "enomem", mount=mount)
    assert r.returncode == 1
    assert r.stderr.decode() == f"insmod: ERROR: could not insert module {drop}/enomem.ko: Cannot allocate memory\n"


def test_restart_replays_the_folder(tmp_path):
    mount, drop = tmp_path / "mnt", tmp_path / "drop"
    os.environ["PSEUDOKERNEL_STATE"] = str(tmp_path / "state")
    drop.mkdir()
    for n in ("importer", "exporter", "hello"):
        shutil.copy(PREBUILT / f"{n}.ko", drop)
    try:
        assert pk("up", "--drop", str(drop), mount=mount).returncode == 0
        assert wait_for(lambda: sorted(loaded(mount)) == ["exporter", "hello", "importer"])
    finally:
        pk("down", mount=mount)
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)


def test_symlink_out_of_the_folder_is_refused(daemon, tmp_path):
    mount, drop = daemon
    target = tmp_path / "elsewhere.ko"
    shutil.copy(PREBUILT / "hello.ko", target)
    os.symlink(target, drop / "link.ko")
    os.utime(drop / "link.ko", follow_symlinks=False)
    time.sleep(1.0)
    assert loaded(mount) == []


@pytest.mark.parametrize("fname", ["v_xz.ko.xz", "v_zst.ko.zst", "v_gz.ko.gz"])
def test_compressed_modules_in_the_folder_and_to_insmod(daemon, fname):
    """kmod inflates compressed modules in userspace (xz and zstd: Debian built it without zlib);
    the drop folder inflates all three."""
    from variants import compressed

    mount, drop = daemon
    (drop / fname).write_bytes(compressed()[fname])
    assert pk("wait", "hello", mount=mount).returncode == 0
    assert loaded(mount) == ["hello"]
    (drop / fname).unlink()
    assert wait_for(lambda: loaded(mount) == [])
    path = drop.parent / fname
    path.write_bytes(compressed()[fname])
    r = pk("insmod", str(path), "count=2", mount=mount)
    if fname.endswith(".gz"):
        # Debian's kmod has no zlib: it hands the file as it is to finit_module(), which 6.1
        # (no in-kernel decompression) refuses
        assert (r.returncode, r.stderr.decode()) == (1, f"insmod: ERROR: could not insert module {path}: "
                                                        "Invalid module format\n")
        return
    assert r.returncode == 0, r.stderr
    assert (mount / "sys/module/hello/parameters/count").read_text() == "2\n"


def test_empty_and_huge_sparse_files(daemon):
    """kernel_read_file(): an empty file is EINVAL, one over INT_MAX bytes EFBIG; neither is read."""
    mount, drop = daemon
    (drop / "empty.ko").write_bytes(b"")
    with open(drop / "huge.ko", "wb") as f:
        f.truncate(2 << 30)  # 2 GiB, sparse
    assert wait_for(lambda: len(events(mount)) == 2, 20)
    got = {e["name"]: e["errno"] for e in events(mount)}
    assert got == {"empty": errno.EINVAL, "huge": errno.EFBIG}
    assert pk("status", mount=mount).returncode == 0
