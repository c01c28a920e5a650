"""Where a daemon keeps its socket, pid, log and events: a state directory per mount point.

The directory is derived from the mount point's real path, so every client finds the daemon of
the mount it names, and several daemons on different mount points never share one. Every CLI
call imports this: it sticks to os and zlib (pathlib is imported only when asked for).
"""

from __future__ import annotations

import os
import zlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every CLI call

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_MOUNT = "mountpoint"
DEFAULT_DROP = "modules"


def state_root() -> str:
    """$PSEUDOKERNEL_STATE, else $XDG_RUNTIME_DIR/pseudokernel, else /tmp/pseudokernel-<uid>."""
    override = os.environ.get("PSEUDOKERNEL_STATE")
    if override:
        return override
    if os.environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(os.environ["XDG_RUNTIME_DIR"], "pseudokernel")
    return f"/tmp/pseudokernel-{os.getuid()}"


def mount_point(mount: str | os.PathLike | None = None) -> str:
    """--mount, else $PSEUDOKERNEL_MOUNT, else ./mountpoint; as a real path. A path that is a
    mount point already is not looked at (realpath's lstat would wait on a dead daemon's mount
    for good): its directory is resolved and its name kept."""
    path = os.path.abspath(os.fspath(mount) if mount else os.environ.get("PSEUDOKERNEL_MOUNT") or DEFAULT_MOUNT)
    name = os.path.basename(path)
    if name:
        beside = os.path.join(os.path.realpath(os.path.dirname(path)), name)
        if beside in mounted_paths():
            return beside
    return os.path.realpath(path)


def mounted_paths() -> dict[str, str]:
    """Mount points (/proc/self/mountinfo, octal escapes undone) and their st_dev "major:minor"."""
    out = {}
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4:
                    out[_unescape(fields[4])] = fields[2]
    except OSError:
        pass
    return out


def _unescape(field: str) -> str:
    """mountinfo's octal escapes (\\040 for a space) undone; by hand: `re` costs every CLI call
    10 ms to import."""
    parts = field.split("\\")
    return parts[0] + "".join(chr(int(p[:3], 8)) + p[3:] if p[:3].isdigit() else "\\" + p for p in parts[1:])


def state_dir(mount: str | os.PathLike | None = None) -> str:
    """state_root()/<64-bit digest of the mount point> (zlib's checksums: hashlib's OpenSSL
    costs a CLI call milliseconds)."""
    m = mount_point(mount).encode()
    return os.path.join(state_root(), f"{zlib.crc32(m):08x}{zlib.adler32(m):08x}")


def socket_path(mount: str | os.PathLike | None = None) -> str:
    return os.path.join(state_dir(mount), "control.sock")


def resolve_mount(mount: str | None = None) -> Path:
    from pathlib import Path

    return Path(mount_point(mount))


class StatePaths:
    """The files of one daemon's state directory."""

    def __init__(self, mount: str | os.PathLike | None = None) -> None:
        from pathlib import Path

        self.mount = Path(mount_point(mount))
        self.dir = Path(state_dir(mount))

    @property
    def socket(self) -> Path:
        return self.dir / "control.sock"

    @property
    def pidfile(self) -> Path:
        return self.dir / "daemon.pid"

    @property
    def log(self) -> Path:
        return self.dir / "daemon.log"

    @property
    def events(self) -> Path:
        return self.dir / "events.jsonl"

    @property
    def info(self) -> Path:
        return self.dir / "daemon.json"


def state_paths(mount: str | os.PathLike | None = None) -> StatePaths:
    return StatePaths(mount)
