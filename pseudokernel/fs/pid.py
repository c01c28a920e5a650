"""/proc/PID, /proc/self and /proc/thread-self: the machine's processes (fs/proc/base.c,
self.c, thread_self.c), and the /proc files that count them and their resources.

The processes of the sealed machine are the host's own: `ps`, `pgrep`, /proc/self/fd (which
Python's subprocess lists, and behind /dev/fd, bash's `<(...)`) must see them. A process's
directory cannot be served through FUSE: its fd/, cwd, exe and ns/ entries are magic links
that open what they name, and procfs checks ptrace access on mem, environ and the rest. So
each PID is a link to the host procfs's own directory of it: in the sealed machine the
launcher binds the host's /proc on /proc/.host (HOST, listed by nobody, as an empty directory
for anyone else), and the link leads there; for a caller outside the seal it leads to the
host's /proc. The emulated kernel threads (kworker, ksoftirqd) have no entry.

The files whose numbers are about those processes are the host's too (RESOURCES), linked the
same way: `ps` computes a process's start and CPU share from its start in jiffies against
/proc/uptime and /proc/stat's btime, and %MEM against /proc/meminfo; `free`, `uptime` and
`top` read them. What describes the kernel (modules, kallsyms, devices, version ...) is the
emulated machine's (procfs.py).
"""

from __future__ import annotations

import os

from .tree import Dir, Link, Node

HOST = ".host"
HOST_PROC = "/proc"  # where the daemon itself sees the host's procfs
RESOURCES = ("cpuinfo", "loadavg", "locks", "meminfo", "pressure", "stat", "swaps", "sysvipc", "uptime", "vmstat")


def pids() -> list[str]:
    """The host's processes, in proc_pid_readdir()'s order (ascending pid)."""
    try:
        names = os.listdir(HOST_PROC)
    except OSError:
        return []
    return sorted((n for n in names if n.isdigit()), key=int)


def tgid(tid: int) -> int:
    """The process of a thread: FUSE names the calling thread, /proc/self its process."""
    try:
        with open(f"{HOST_PROC}/{tid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return tid


def sealed(tid: int) -> bool:
    """Whether the caller sees the host's procfs on /proc/.host: it is in a sealed machine's
    mount namespace. Asked anew each time (20 us): a namespace's inode number is handed out
    again once it is gone, so a verdict kept by it could be another namespace's."""
    mountpoint = f"/proc/{HOST}".encode()
    try:
        with open(f"{HOST_PROC}/{tid}/mountinfo", "rb") as f:
            return any(line.split(b" ", 5)[4] == mountpoint for line in f)
    except (OSError, IndexError):
        return False


def _host_link(name: str) -> Link:
    def target(tid: int) -> str:
        return f"{HOST}/{name}" if sealed(tid) else f"{HOST_PROC}/{name}"

    return Link(target, fixed=True)


def self_link() -> Link:
    """self: the caller's process, thread-self: its thread in it (what readlink shows)."""
    return Link(lambda tid: str(tgid(tid)), fixed=True)


def thread_self_link() -> Link:
    return Link(lambda tid: f"{tgid(tid)}/task/{tid}", fixed=True)


def host_dir(boot: float) -> Dir:
    return Dir(lambda: [], lambda name: None, 0o555, boot)


def names() -> list[str]:
    """What the root of /proc lists beside the kernel's entries: the host's resource files,
    then what proc_pid_readdir() adds."""
    return [*RESOURCES, "self", "thread-self", *pids()]


def child(name: str, boot: float) -> Node | None:
    if name == "self":
        return self_link()
    if name == "thread-self":
        return thread_self_link()
    if name == HOST:
        return host_dir(boot)
    if name in RESOURCES or name.isdigit() and name == str(int(name)) and os.path.exists(f"{HOST_PROC}/{name}"):
        return _host_link(name)
    return None
