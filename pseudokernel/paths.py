"""Where a daemon keeps its socket, pid, log and events: a state directory per mount point.

The directory is derived from the mount point's real path, so every client finds the daemon of
the mount it names, and several daemons on different mount points never share one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MOUNT = "mountpoint"
DEFAULT_DROP = "modules"


def state_root() -> Path:
    override = os.environ.get("PSEUDOKERNEL_STATE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/pseudokernel-{os.getuid()}"
    return Path(base) / "pseudokernel" if "XDG_RUNTIME_DIR" in os.environ else Path(base)


@dataclass(frozen=True)
class StatePaths:
    mount: Path
    dir: Path

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


def resolve_mount(mount: str | None = None) -> Path:
    """--mount, else $PSEUDOKERNEL_MOUNT, else ./mountpoint."""
    return Path(mount or os.environ.get("PSEUDOKERNEL_MOUNT") or DEFAULT_MOUNT).resolve()


def state_paths(mount: str | Path | None = None) -> StatePaths:
    m = resolve_mount(str(mount) if mount else None)
    key = hashlib.sha256(str(m).encode()).hexdigest()[:12]
    return StatePaths(m, state_root() / key)
