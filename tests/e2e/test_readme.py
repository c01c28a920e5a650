"""The README's session, as a new user types it, in this checkout: scripts/up, then the
commands of the "A session" section."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from realref import ROOT

from pseudokernel.fs.mount import is_mounted

MOUNT = ROOT / "mountpoint"
pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


def sh(cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture
def session(monkeypatch):
    if is_mounted(str(MOUNT)):
        pytest.skip("a daemon is already serving ./mountpoint in this checkout")
    monkeypatch.delenv("PSEUDOKERNEL_STATE", raising=False)
    monkeypatch.delenv("PSEUDOKERNEL_MOUNT", raising=False)
    yield
    sh(".venv/bin/pseudokernel down --mount mountpoint")
    for name in ("exporter", "importer", "params", "hello"):
        (ROOT / "modules" / f"{name}.ko").unlink(missing_ok=True)


def test_readme_session(session):
    readme = (ROOT / "README.md").read_text()
    assert "\n    scripts/up\n" in readme and "\n    scripts/test\n" in readme
    up = sh("scripts/up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert re.search(r"^params 16384 0 - Live 0xffffffffc[0-9a-f]{7} \(OE\)$", up.stdout, re.M)
    assert sh("cp tests/modules/prebuilt/hello.ko modules/").returncode == 0
    assert sh(".venv/bin/pseudokernel wait hello").returncode == 0
    modules = sh("cat mountpoint/proc/modules").stdout
    assert re.search(r"^hello 16384 0 - Live 0xffffffffc[0-9a-f]{7} \(OE\)$", modules, re.M)
    listing = sh("ls -A mountpoint/sys/module/hello/sections/").stdout.split()
    assert ".init.text" in listing and "__param" in listing
    dmesg = sh("cat mountpoint/dmesg").stdout
    assert re.search(r"^\[ *\d+\.\d{6}\] hello: hello world \(1 of 1\)$", dmesg, re.M)
    assert sh("rm modules/hello.ko").returncode == 0
    assert sh("for i in $(seq 100); do grep -q '^hello ' mountpoint/proc/modules || exit 0; sleep 0.1; done; exit 1"
              ).returncode == 0
    assert sh("tail -1 mountpoint/dmesg").stdout.rstrip().endswith("hello: goodbye world")
    bad = sh(".venv/bin/pseudokernel insmod tests/modules/prebuilt/unknown_sym.ko")
    assert bad.returncode == 1
    assert bad.stderr == ("insmod: ERROR: could not insert module tests/modules/prebuilt/unknown_sym.ko: "
                          "Unknown symbol in module\n")
