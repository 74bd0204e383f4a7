"""The recording channel's JSONL outbox: each idempotency key written once, across processes.

Beside ``outbox.jsonl`` lies ``outbox.jsonl.keys``, the index: one line per record,
``<outbox size after the record>\\t<key as JSON>``. A writer holds an exclusive ``flock`` on the
index while it reads what other processes added since its last look, checks the key, appends the
record and then its index line. A writer killed between the two appends leaves records the index
does not cover yet; the next writer finds them past the last indexed size and indexes them
first. A line cut short by a kill (no newline) is cut off. Local files only: ``flock`` does not
lock across machines on every network file system.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import IO, Any


class Outbox:
    """Appends records to a JSONL file unless their key was written before, by any process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.index_path = self.path.with_name(self.path.name + ".keys")
        self._keys: set[str] = set()
        self._read = 0  # bytes of the index read into _keys
        self._covered = 0  # outbox size the index's last line says it covers
        self._lock = threading.Lock()  # flock is per open file: threads of one process queue here

    def append(self, key: str, record: dict[str, Any]) -> bool:
        """Write ``record`` as one line unless ``key`` is there already; False for a repeat."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.index_path.open("a+b") as index, self.path.open("a+b") as out:
            fcntl.flock(index, fcntl.LOCK_EX)  # released when the file is closed
            self._catch_up(index, out)
            if key in self._keys:
                return False
            out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            out.flush()
            self._index(index, key, out.tell())
            self._keys.add(key)
        return True

    def _catch_up(self, index: IO[bytes], out: IO[bytes]) -> None:
        _cut_partial_line(index)
        size = index.seek(0, os.SEEK_END)
        if size < self._read:  # the index was replaced: read it afresh
            self._keys.clear()
            self._read = self._covered = 0
        index.seek(self._read)
        for line in index.read().splitlines():
            end, _, key = line.decode("utf-8", "replace").partition("\t")
            try:
                self._keys.add(json.loads(key))
                self._covered = int(end)
            except ValueError:  # a line mangled by hand: skipped
                continue
        self._read = size
        _cut_partial_line(out)
        end = out.seek(0, os.SEEK_END)
        if end > self._covered:  # records a killed writer left unindexed
            out.seek(self._covered)
            at = self._covered
            for line in out.read().splitlines(keepends=True):
                at += len(line)
                found = _key_of(line)
                if found is not None:
                    self._index(index, found, at)
                    self._keys.add(found)
            self._covered = end

    def _index(self, index: IO[bytes], key: str, end: int) -> None:
        index.write(f"{end}\t{json.dumps(key, ensure_ascii=False)}\n".encode())
        index.flush()
        self._read = index.tell()
        self._covered = end


def _cut_partial_line(f: IO[bytes]) -> None:
    """Cut a last line left without its newline by a killed writer (we hold the lock)."""
    size = f.seek(0, os.SEEK_END)
    if size == 0:
        return
    f.seek(size - 1)
    if f.read(1) == b"\n":
        return
    keep, end = 0, size
    while end > 0:  # back, a block at a time, to the last newline
        start = max(0, end - 65536)
        f.seek(start)
        found = f.read(end - start).rfind(b"\n")
        if found >= 0:
            keep = start + found + 1
            break
        end = start
    os.ftruncate(f.fileno(), keep)
    f.seek(keep)


def _key_of(line: bytes) -> str | None:
    try:
        key = json.loads(line).get("key")
    except (ValueError, AttributeError):
        return None
    return key if isinstance(key, str) else None
