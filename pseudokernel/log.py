"""The printk ring buffer (kernel/printk/printk.c) and the three ways userspace reads it.

Records are stored as vprintk_store() stores them: the level prefix parsed off, a trailing
newline stripped into LOG_NEWLINE, KERN_CONT pieces appended to the caller's still-open last
record, text cut at LOG_LINE_MAX, old records dropped when the buffer (1 << LOG_BUF_SHIFT bytes)
is full. Rendering follows record_print_text() (syslog), devkmsg_read() (/dev/kmsg) and what
util-linux dmesg prints.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

KERN_SOH = 0x01
LOG_NEWLINE = 2
LOG_CONT = 8

CONSOLE_LOG_MAX = 1024
PREFIX_MAX = 32
LOG_LINE_MAX = CONSOLE_LOG_MAX - PREFIX_MAX

KERN_EMERG, KERN_ALERT, KERN_CRIT, KERN_ERR, KERN_WARNING, KERN_NOTICE, KERN_INFO, KERN_DEBUG = range(8)
LOGLEVEL_DEFAULT = -1


@dataclass
class Record:
    seq: int
    ts_nsec: int
    level: int
    flags: int
    text: bytes
    facility: int = 0
    caller: int = 0
    dev_info: tuple[tuple[str, str], ...] = ()
    final: bool = field(default=False, compare=False)

    @property
    def prefix_value(self) -> int:
        return (self.facility << 3) | self.level


# -- printk levels (include/linux/kern_levels.h, include/linux/printk.h) ----------------------

def printk_get_level(text: bytes) -> str | None:
    """The level character after KERN_SOH: '0'..'7' or 'c' (KERN_CONT); None if there is none.

    As in 6.1's printk_get_level(); 'd' is not a level there (KERN_DEFAULT is "" since 5.x).
    """
    if len(text) >= 2 and text[0] == KERN_SOH and text[1] in b"01234567c":
        return chr(text[1])
    return None


def printk_skip_level(text: bytes) -> bytes:
    """text without one leading KERN_SOH+level header."""
    if printk_get_level(text):
        return text[2:]
    return text


def printk_skip_headers(text: bytes) -> bytes:
    """text without all its leading KERN_SOH+level headers."""
    while printk_get_level(text):
        text = text[2:]
    return text


def printk_parse_prefix(text: bytes) -> tuple[int, int, bytes]:
    """printk_parse_prefix(): strip KERN_SOH '0'..'7' / 'c' pairs; (level, flags, rest)."""
    level = LOGLEVEL_DEFAULT
    flags = 0
    while c := printk_get_level(text):
        if c == "c":  # KERN_CONT
            flags |= LOG_CONT
        elif level == LOGLEVEL_DEFAULT:
            level = int(c)
        text = text[2:]
    return level, flags, text


class PrintkLog:
    """The kernel log: a bounded list of records, safe to read while modules print."""

    def __init__(
        self,
        clock: Callable[[], int] | None = None,
        default_level: int = KERN_WARNING,
        buf_shift: int = 17,
    ) -> None:
        start = time.monotonic_ns()
        self._clock = clock or (lambda: time.monotonic_ns() - start)
        self.default_level = default_level
        self._capacity = 1 << buf_shift
        self._records: deque[Record] = deque()
        self._bytes = 0
        self._next_seq = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._once: set[str] = set()
        # called after each record stored, outside the lock: /dev/kmsg's pollers (fs/mount.py)
        self.watchers: list[Callable[[], None]] = []

    # -- writing ---------------------------------------------------------------------------

    def printk(
        self,
        text: bytes | str,
        *,
        facility: int = 0,
        caller: int = 0,
        dev_info: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Store one formatted message the way vprintk_store() does; returns its length."""
        if isinstance(text, str):
            text = text.encode()
        dev_info = tuple(dev_info)
        ts = self._clock()
        # vscnprintf into a buffer of reserve_size (at most LOG_LINE_MAX) bytes, NUL included
        text = text[: LOG_LINE_MAX - 1]
        level, flags = LOGLEVEL_DEFAULT, 0
        if facility == 0:
            level, flags, text = printk_parse_prefix(text)
        if level == LOGLEVEL_DEFAULT:
            level = self.default_level
        if dev_info:
            flags |= LOG_NEWLINE
        if text.endswith(b"\n"):
            text = text[:-1]
            flags |= LOG_NEWLINE
        with self._lock:
            appended = flags & LOG_CONT and self._append_to_last(text, flags, caller)
            if not appended:
                self._store(ts, level, flags, text, facility, caller, dev_info)
        for watcher in list(self.watchers):
            watcher()
        return len(text)

    def _store(self, ts: int, level: int, flags: int, text: bytes, facility: int, caller: int,
               dev_info: tuple[tuple[str, str], ...]) -> None:
        """A new record at the end, the oldest dropped while the buffer is over capacity."""
        if self._records:
            self._records[-1].final = True
        rec = Record(self._next_seq, ts, level & 7, flags & 0x1F, text, facility, caller, dev_info)
        rec.final = bool(flags & LOG_NEWLINE)
        self._next_seq += 1
        self._records.append(rec)
        self._bytes += len(text) + 48
        while self._bytes > self._capacity and len(self._records) > 1:
            old = self._records.popleft()
            self._bytes -= len(old.text) + 48
        self._changed.notify_all()

    def _append_to_last(self, text: bytes, flags: int, caller: int) -> bool:
        """prb_reserve_in_last(): extend the caller's unfinished last record if it fits."""
        if not self._records:
            return False
        last = self._records[-1]
        if last.final or last.caller != caller or len(last.text) + len(text) > LOG_LINE_MAX:
            return False
        last.text += text
        self._bytes += len(text)
        if flags & LOG_NEWLINE:
            last.flags |= LOG_NEWLINE
            last.final = True
        self._changed.notify_all()
        return True

    def printk_once(self, key: str, text: bytes | str) -> None:
        """pr_*_once(): print only the first time `key` is seen in this boot."""
        with self._lock:
            if key in self._once:
                return
            self._once.add(key)
        self.printk(text)

    def emit(self, level: int, text: str) -> None:
        """pr_<level>(): a kernel-side message at an explicit level."""
        self.printk(bytes([KERN_SOH, 0x30 + level]) + text.encode(errors="surrogateescape"))

    def err(self, text: str) -> None:
        self.emit(KERN_ERR, text)

    def warn(self, text: str) -> None:
        self.emit(KERN_WARNING, text)

    def notice(self, text: str) -> None:
        self.emit(KERN_NOTICE, text)

    def info(self, text: str) -> None:
        self.emit(KERN_INFO, text)

    # -- reading ---------------------------------------------------------------------------

    def records(self, since_seq: int = 0) -> list[Record]:
        """A snapshot of the finalized records with seq >= since_seq (copies: safe to format
        later). As prb_read_valid(), a reader does not see the last record while it may still
        grow: one without a newline is final only once the next one is stored."""
        with self._lock:
            return [
                Record(r.seq, r.ts_nsec, r.level, r.flags, r.text, r.facility, r.caller, r.dev_info)
                for r in self._records
                if r.seq >= since_seq and r.final
            ]

    @property
    def next_seq(self) -> int:
        with self._lock:
            return self._next_seq

    def wake_all(self) -> None:
        """Every follower waiting in wait_for() looks again (the daemon is going down)."""
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, since_seq: int, timeout: float) -> bool:
        """Block until a record with seq >= since_seq exists (for followers); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._next_seq > since_seq, timeout)


# -- rendering -------------------------------------------------------------------------------


def print_time(ts_nsec: int) -> bytes:
    """print_time(): '[%5lu.%06lu]'."""
    sec, rem = divmod(ts_nsec, 1_000_000_000)
    return b"[%5d.%06d]" % (sec, rem // 1000)


def record_print_text(rec: Record, syslog: bool, time_: bool = True) -> bytes:
    """record_print_text(): every line of the record gets the prefix; a newline ends each."""
    prefix = b""
    if syslog:
        prefix += b"<%d>" % rec.prefix_value
    if time_:
        prefix += print_time(rec.ts_nsec) + b" "
    return b"".join(prefix + line + b"\n" for line in rec.text.split(b"\n"))


def format_syslog(records: Iterable[Record]) -> bytes:
    """What syslog(2) SYSLOG_ACTION_READ_ALL returns and /proc/kmsg yields: '<6>[ t] text'."""
    return b"".join(record_print_text(r, syslog=True) for r in records)


def safe_fwrite(text: bytes, indent: int) -> bytes:
    """util-linux dmesg's safe_fwrite() in a UTF-8 locale: bytes that are neither printable
    nor space become \\xNN, a newline inside the text is followed by `indent` spaces."""
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c < 0x80:
            if c == 0x0A and i + 1 < n and indent:
                out += b"\n" + b" " * indent
            elif 0x20 <= c < 0x7F or c in b" \t\n\v\f\r":
                out.append(c)
            else:
                out += b"\\x%02x" % c
            i += 1
            continue
        length = 2 if c >> 5 == 0b110 else 3 if c >> 4 == 0b1110 else 4 if c >> 3 == 0b11110 else 0
        chunk = text[i : i + length] if length else b""
        try:
            ch = chunk.decode("utf-8") if length and len(chunk) == length else None
        except UnicodeDecodeError:
            ch = None
        if ch is not None and (ch.isprintable() or ch.isspace()):
            out += chunk
            i += length
        else:
            out += b"\\x%02x" % c
            i += 1
    return bytes(out)


def dmesg_record(rec: Record, syslog: bool = False) -> bytes:
    """One record as util-linux dmesg prints it from /dev/kmsg: the prefix once, the
    further lines of a multi-line record indented to the width of that prefix."""
    prefix = (b"<%d>" % rec.prefix_value if syslog else b"") + print_time(rec.ts_nsec) + b" "
    return prefix + safe_fwrite(rec.text, len(prefix)) + b"\n"


def format_dmesg(records: Iterable[Record], raw: bool = False) -> bytes:
    """What util-linux `dmesg` (or `dmesg -r` with raw) prints: '[    1.234567] text'."""
    return b"".join(dmesg_record(r, raw) for r in records)


def msg_add_ext_text(text: bytes, endc: bytes) -> bytes:
    """Escape bytes < 0x20, >= 0x7f and backslash as \\xNN, as /dev/kmsg does."""
    out = bytearray()
    for c in text:
        if c < 0x20 or c >= 0x7F or c == 0x5C:
            out += b"\\x%02x" % c
        else:
            out.append(c)
    return bytes(out) + endc


def format_kmsg_record(rec: Record) -> bytes:
    """One /dev/kmsg record: 'prefix,seq,usec,flag;text\\n' and ' KEY=value\\n' dict lines."""
    head = b"%d,%d,%d,%s;" % (
        rec.prefix_value,
        rec.seq,
        rec.ts_nsec // 1000,
        b"c" if rec.flags & LOG_CONT else b"-",
    )
    body = msg_add_ext_text(rec.text, b"\n")
    for key, val in rec.dev_info:
        body += b" " + msg_add_ext_text(key.encode(), b"=") + msg_add_ext_text(val.encode(), b"\n")
    return head + body


def parse_kmsg_record(raw: bytes) -> Record:
    """A /dev/kmsg record back into a Record (what util-linux dmesg does with each read)."""
    head, _, rest = raw.partition(b";")
    fields = head.split(b",")
    prefix, seq, usec = int(fields[0]), int(fields[1]), int(fields[2])
    flag = fields[3][:1] if len(fields) > 3 else b"-"
    line = rest.split(b"\n", 1)[0]
    text = bytearray()
    i = 0
    while i < len(line):
        if line[i : i + 2] == b"\\x" and i + 4 <= len(line):
            try:
                text.append(int(line[i + 2 : i + 4], 16))
                i += 4
                continue
            except ValueError:
                pass
        text.append(line[i])
        i += 1
    return Record(seq, usec * 1000, prefix & 7, LOG_CONT if flag == b"c" else 0, bytes(text), prefix >> 3)


def format_kmsg(records: Iterable[Record]) -> bytes:
    return b"".join(format_kmsg_record(r) for r in records)
