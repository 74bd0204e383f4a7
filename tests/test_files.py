"""The attachment store: streamed in chunks, hashed on the way, written atomically, names cleaned."""

from __future__ import annotations

import hashlib
import io
import unicodedata

import pytest

from workflow import files
from workflow.files import EmptyFile, FileStore, FileTooLarge, clean_name, guess_type


class Trickle(io.RawIOBase):
    """A stream that hands out its bytes in pieces and remembers every read size asked for."""

    def __init__(self, data: bytes, on_read=None) -> None:
        self.data, self.pos, self.asked, self.on_read = data, 0, [], on_read

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        if self.on_read:
            self.on_read(self.pos)
        end = len(self.data) if size < 0 else self.pos + size
        chunk, self.pos = self.data[self.pos : end], min(end, len(self.data))
        return chunk


def leftovers(store: FileStore) -> list[str]:
    return sorted(p.name for p in (store.root / "tmp").iterdir())


def test_a_file_is_streamed_in_chunks_and_stored_by_its_hash(tmp_path):
    store = FileStore(tmp_path)
    data = bytes(range(256)) * (3 * files.CHUNK // 256 + 100)  # three chunks and a bit
    stream = Trickle(data)
    saved = store.save(stream, "合同文本.pdf")
    digest = hashlib.sha256(data).hexdigest()
    assert saved == files.StoredFile("合同文本.pdf", len(data), digest, "application/pdf")
    assert stream.asked == [files.CHUNK] * 5  # never "read everything"
    path = tmp_path / digest[:2] / digest
    assert store.path(digest) == path and path.read_bytes() == data
    assert store.exists(digest)
    assert leftovers(store) == []
    assert saved.as_dict() == {"name": "合同文本.pdf", "size": len(data), "sha256": digest,
                               "content_type": "application/pdf"}  # fmt: skip


def test_the_same_content_is_kept_once(tmp_path):
    store = FileStore(tmp_path)
    a = store.save(io.BytesIO(b"same bytes"), "a.txt")
    b = store.save(io.BytesIO(b"same bytes"), "b.docx")
    assert a.sha256 == b.sha256 and (a.name, b.name) == ("a.txt", "b.docx")
    assert [p.name for p in (tmp_path / a.sha256[:2]).iterdir()] == [a.sha256]


def test_the_file_appears_only_when_whole(tmp_path):
    store = FileStore(tmp_path)
    data = b"x" * (2 * files.CHUNK + 1)
    final = store.path(hashlib.sha256(data).hexdigest())
    seen = []

    def look(_pos: int) -> None:
        seen.append(final.exists())

    store.save(Trickle(data, on_read=look), "x.bin")
    assert seen == [False, False, False, False]
    assert final.read_bytes() == data


def test_a_stream_that_breaks_leaves_nothing_behind(tmp_path):
    store = FileStore(tmp_path)

    def fail(pos: int) -> None:
        if pos >= files.CHUNK:
            raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        store.save(Trickle(b"y" * (3 * files.CHUNK), on_read=fail), "y.bin")
    assert leftovers(store) == []
    assert [p.name for p in tmp_path.iterdir()] == ["tmp"]


def test_an_empty_file_is_refused_clearly(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(EmptyFile, match=r"the file 'blank\.pdf' is empty") as err:
        store.save(io.BytesIO(b""), "blank.pdf")
    assert err.value.params == {"name": "blank.pdf"}
    assert leftovers(store) == []


def test_a_file_over_the_limit_is_refused_and_not_kept(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(FileTooLarge, match="larger than the limit of 10 bytes"):
        store.save(io.BytesIO(b"z" * 11), "big.bin", limit=10)
    assert leftovers(store) == []
    assert store.save(io.BytesIO(b"z" * 10), "ok.bin", limit=10).size == 10


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("合同.pdf", "合同.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\wang\\Desktop\\报价单.xlsx", "报价单.xlsx"),
        ("/tmp/", "file"),
        ("", "file"),
        (None, "file"),
        ("..", "file"),
        (".bashrc", "bashrc"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ('what?<is>"this"|*.txt', "what__is__this___.txt"),
        ("  spaced name.doc  ", "spaced name.doc"),
    ],
)
def test_file_names_are_cleaned(given, kept):
    assert clean_name(given) == kept


def test_long_names_are_capped_keeping_the_extension():
    name = clean_name("报" * 300 + ".pdf")
    assert len(name) == files.NAME_MAX and name.endswith(".pdf")
    assert len(clean_name("x" * 500)) == files.NAME_MAX


def test_names_are_stored_composed():
    decomposed = unicodedata.normalize("NFD", "café.txt")
    assert clean_name(decomposed) == unicodedata.normalize("NFC", "café.txt")


def test_content_types_are_guessed_from_the_name():
    assert guess_type("合同.pdf") == "application/pdf"
    assert guess_type("a.txt") == "text/plain"
    assert guess_type("noextension") == "application/octet-stream"
    assert guess_type("x.qqq") == "application/octet-stream"


def test_only_well_formed_hashes_name_a_path(tmp_path):
    store = FileStore(tmp_path)
    for bad in ("../../etc/passwd", "ABC", "0" * 63, "g" * 64):
        with pytest.raises(ValueError):
            store.path(bad)
        assert not store.exists(bad)
