"""Attachments: a content-addressed store on disk (by SHA-256), filled by streaming, written atomically."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from workflow.errors import BanliError
from workflow.limits import FILE_NAME_MAX, without_bidi

CHUNK = 1024 * 1024
#: the longest file name kept, in characters (the form stores it; the disk never sees it)
NAME_MAX = FILE_NAME_MAX
FALLBACK_NAME = "file"
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Control characters and what Windows refuses in a file name: a download must save anywhere.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


class UploadError(BanliError):
    """An upload the store refuses; ``details`` carry the file name."""


class EmptyFile(UploadError):
    """A file of zero bytes: nearly always a mistake (a broken export, a wrong file chosen)."""


class FileTooLarge(UploadError):
    """A file larger than the configured limit."""


@dataclass(frozen=True)
class StoredFile:
    """An attachment as a form keeps it: the name the person gave it, its size, hash and type."""

    name: str
    size: int
    sha256: str
    content_type: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean_name(name: str | None) -> str:
    """A file name safe to show and to offer for download: no path, no control characters, capped.

    Bidirectional controls go too: a right-to-left override makes "invoice\u202efdp.exe" read
    as "invoiceexe.pdf".
    """
    name = without_bidi(unicodedata.normalize("NFC", name or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if not name:
        return FALLBACK_NAME
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) <= 16:
            name = stem[: NAME_MAX - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:NAME_MAX]
    return name


def guess_type(name: str) -> str:
    """The content type a file name suggests; unknown ones are plain bytes."""
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


class FileStore:
    """Files under ``root/ab/abcdef…`` by SHA-256: the same content is kept once."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where a file with this hash lives (it may not exist); a malformed hash is refused."""
        if not SHA256.match(sha256 or ""):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return bool(SHA256.match(sha256 or "")) and self.path(sha256).is_file()

    def save(
        self,
        stream: BinaryIO,
        name: str | None,
        *,
        limit: int | None = None,
        before_placing: Callable[[StoredFile], None] | None = None,
    ) -> StoredFile:
        """Copy ``stream`` into the store in chunks, hashing as it goes; the file appears whole or not at all.

        Args:
            stream: read until it returns ``b""``; never held in memory whole.
            name: the name the person gave the file; cleaned with :func:`clean_name`.
            limit: the most bytes accepted (None: no limit).
            before_placing: called with the file's hash and size once they are known, before the
                file takes its place in the store (``workflow.uploads`` records its owner there,
                so that the sweep never removes a file someone is storing right now).
        Raises:
            EmptyFile, FileTooLarge: and nothing is left in the store (nor if ``before_placing``
            raises).
        """
        shown = clean_name(name)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise FileTooLarge(
                            "file_too_large",
                            name=shown,
                            limit=limit,
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise EmptyFile("file_empty", name=shown)
            sha = digest.hexdigest()
            if before_placing is not None:
                before_placing(StoredFile(shown, size, sha, guess_type(shown)))
            final = self.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            # rename is atomic on one file system: readers see the whole file or none. The same
            # content stored twice just replaces a file with identical bytes.
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredFile(shown, size, sha, guess_type(shown))
