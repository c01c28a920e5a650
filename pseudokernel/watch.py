"""The drop folder: a module file that finished being written is loaded, a deleted one unloaded.

watchdog's inotify observer reports close-after-write (IN_CLOSE_WRITE) and moves; a file that
was only created (moved in from another file system shows up that way) is checked after a short
window. Events on one path are debounced, and a file still open for writing is never read. A
module that failed only on unknown symbols is retried after a later module loads.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEventHandler,
)
from watchdog.observers.inotify import InotifyObserver

log = logging.getLogger("pseudokernel.watch")

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
DEBOUNCE = 0.2


def is_module_file(path: str) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and name.endswith(MODULE_SUFFIXES)


def params_file(path: str) -> str:
    """<name>.params beside <name>.ko."""
    base = path
    for suffix in MODULE_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base + ".params"


@dataclass
class Loaded:
    name: str
    digest: str


class DropFolder(FileSystemEventHandler):
    """Turns file events into load/unload calls, one at a time, in arrival order."""

    def __init__(
        self,
        folder: Path,
        load: Callable[[str, str], dict],
        unload: Callable[[str], int],
    ) -> None:
        """load(path, params) -> {errno, name, exports | unknown_symbols}; unload(name) -> errno."""
        self.folder = folder
        self.load = load
        self.unload = unload
        self.loaded: dict[str, Loaded] = {}  # path -> what it loaded
        # paths that failed only on unknown symbols -> those symbols
        self.pending_symbols: dict[str, set[str]] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._work: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._observer: InotifyObserver | None = None
        self._worker: threading.Thread | None = None
        self.idle = threading.Event()
        self.idle.set()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = threading.Thread(target=self._run, name="drop-folder", daemon=True)
        self._worker.start()
        self._observer = InotifyObserver()
        self._observer.schedule(self, str(self.folder), recursive=False)
        self._observer.start()
        for entry in sorted(os.listdir(self.folder)):  # start-up replays the folder
            path = str(self.folder / entry)
            if is_module_file(path):
                self._enqueue("load", path)

    def stop(self) -> None:
        if self._observer:
            self._observer.stop()
            self._observer.join(timeout=5)
        with self._lock:
            for t in self._timers.values():
                t.cancel()
        self._work.put(None)
        if self._worker:
            self._worker.join(timeout=10)

    # -- events ----------------------------------------------------------------------------

    def on_closed(self, event: FileClosedEvent) -> None:
        # the writer closed it: the file is complete now (a duplicate event finds it loaded)
        self._debounce("load", event.src_path, delay=0)

    def on_moved(self, event: FileMovedEvent) -> None:
        if event.src_path in self.loaded or is_module_file(event.src_path):
            self._debounce("unload", event.src_path, delay=0)
        self._debounce("load", event.dest_path, delay=0)

    def on_created(self, event: FileCreatedEvent) -> None:
        # a move from another file system arrives as a bare create: no close follows
        self._debounce("load", event.src_path, delay=DEBOUNCE * 2)

    def on_deleted(self, event: FileDeletedEvent) -> None:
        self._debounce("unload", event.src_path)

    def _debounce(self, action: str, path: str, delay: float = DEBOUNCE) -> None:
        path = os.fsdecode(path)
        if path.endswith(".params"):
            for suffix in MODULE_SUFFIXES:
                mod = path[: -len(".params")] + suffix
                if mod in self.loaded:
                    self._debounce("reload", mod, delay)
            return
        if not is_module_file(path):
            return
        with self._lock:
            old = self._timers.pop(path, None)
            if old:
                old.cancel()
            if delay <= 0:
                self.idle.clear()
                self._work.put((action, path))
                return
            t = threading.Timer(delay, self._enqueue, (action, path))
            t.daemon = True
            self._timers[path] = t
            self.idle.clear()
            t.start()

    def _enqueue(self, action: str, path: str) -> None:
        with self._lock:
            self._timers.pop(path, None)
            self.idle.clear()
        self._work.put((action, path))

    # -- work ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            action, path = item
            try:
                if action == "unload":
                    self._unload(path)
                else:
                    self._load(path, force=action == "reload")
            except Exception:
                log.exception("drop folder: %s %s failed", action, path)
            with self._lock:
                if self._work.empty() and not self._timers:
                    self.idle.set()

    def _digest(self, path: str) -> str | None:
        """What identifies this version of the file, without reading it (it may be huge)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"

    def _read_params(self, path: str) -> str:
        try:
            with open(params_file(path)) as f:
                text = f.read()
        except OSError:
            return ""
        words = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("options "):
                line = line.split(None, 2)[2] if len(line.split(None, 2)) > 2 else ""
            if line:
                words.append(line)
        return " ".join(words)

    def _load(self, path: str, force: bool = False) -> None:
        if not os.path.isfile(path):
            return
        digest = self._digest(path)
        if digest is None:
            return
        prev = self.loaded.get(path)
        if prev and prev.digest == digest and not force:
            return  # a duplicate event for what is already loaded
        if prev:
            err = self.unload(prev.name)
            if err:
                log.warning("drop folder: %s changed but %s stays loaded (errno %d)", path, prev.name, err)
                return
            del self.loaded[path]
        reply = self.load(path, self._read_params(path))
        name, err = reply.get("name"), reply.get("errno", 0)
        if err == errno.ETXTBSY:
            log.info("drop folder: %s is still being written; waiting for its close", path)
            return
        if name and not err:
            self.loaded[path] = Loaded(name, digest)
            self.pending_symbols.pop(path, None)
            self._retry_pending(set(reply.get("exports", ())))
        elif err == errno.ENOENT and reply.get("unknown_symbols"):
            self.pending_symbols[path] = set(reply["unknown_symbols"])

    def _retry_pending(self, exported: set[str]) -> None:
        """A module that lacked symbols is tried again once a module exporting any of them loads."""
        for path, missing in list(self.pending_symbols.items()):
            if missing & exported:
                del self.pending_symbols[path]
                if os.path.isfile(path):
                    self._work.put(("load", path))

    def _unload(self, path: str) -> None:
        self.pending_symbols.pop(path, None)
        prev = self.loaded.get(path)
        if prev is None or os.path.exists(path):
            return
        err = self.unload(prev.name)
        if not err or err == errno.ENOENT:
            del self.loaded[path]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle.wait(0.05) and self._work.empty():
                time.sleep(0.05)
                if self.idle.is_set() and self._work.empty():
                    return True
        return False
