"""The size of an Arrow IPC stream once unpacked, read from its metadata before anything is decompressed.

A gateway may compress an Arrow body (LZ4 or ZSTD buffers); 32 KB of ZSTD can claim gigabytes.  This
reads each message's flatbuffer metadata by hand — pyarrow exposes no reader of it, and the two
fields needed (rows, and each buffer's place in the body) take a few dozen lines — so that
``files.parse_arrow_stream`` refuses a bomb as cheaply as it arrived.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa


def stream_size(body: bytes) -> tuple[int, int]:
    """The readings (rows of its record batches) of an Arrow IPC stream and the bytes its record and
    dictionary batches unpack to, read from each message's metadata without decompressing anything.

    Per the Arrow columnar format (format/Message.fbs, format/Schema.fbs, and "Compression" in
    docs/source/format/Columnar.rst): a message's metadata is a flatbuffer ``Message`` whose union
    ``header`` (field 2, type in field 1) is a ``RecordBatch`` (type 3: ``length`` rows, field 0;
    ``buffers`` [offset, length] structs, field 2; ``compression``, field 3) or a ``DictionaryBatch``
    (type 2: its ``RecordBatch`` is field 1).  Without compression a buffer unpacks to its length; with
    it, each non-empty buffer in the body starts with its unpacked length (int64 little-endian; -1: the
    buffer is stored as is).  Raises ``ValueError`` (or Arrow's error) on a malformed stream."""
    rows = size = 0
    for msg in pa.ipc.MessageReader.open_stream(pa.py_buffer(body)):
        if msg.type not in ("record batch", "dictionary"):  # pyarrow's names of the two
            continue
        meta = msg.metadata.to_pybytes()
        message = _Flat(meta, _Flat.u32(meta, 0))
        header = message.table(2)
        batch = header.table(1) if msg.type == "dictionary" and header is not None else header
        if batch is None:
            raise ValueError(f"a {msg.type} message without its header")
        if msg.type == "record batch":
            rows += max(batch.scalar(0, "<q"), 0)
        buffers = batch.structs(2, 2)  # (offset, length) per buffer
        compressed = batch.table(3) is not None
        size += _unpacked(msg.body, buffers, compressed)
    return rows, size


def _unpacked(body: pa.Buffer | None, buffers: np.ndarray, compressed: bool) -> int:
    """The bytes ``buffers`` (offset, length rows) of a message body unpack to."""
    if not len(buffers):
        return 0
    offset, length = buffers[:, 0], buffers[:, 1]
    if (offset < 0).any() or (length < 0).any():
        raise ValueError("a buffer with a negative offset or length")
    if not compressed:
        return sum(length.tolist())  # Python's ints: crafted lengths near 2**63 cannot wrap the sum around
    data = np.frombuffer(body if body is not None else b"", np.uint8)
    full = length > 0
    if (length[full] < 8).any() or (offset[full] > len(data) - 8).any():
        raise ValueError("a compressed buffer without its 8-byte length")
    heads = data[offset[full, None] + np.arange(8)].copy().view("<i8").ravel()
    if (heads < -1).any():
        raise ValueError("a compressed buffer with a negative length")
    return sum(np.where(heads == -1, length[full] - 8, heads).tolist())


class _Flat:
    """A table of a flatbuffer (flatbuffers.dev/internals): at ``pos`` an int32 back to its vtable, whose
    uint16 entries after (vtable size, table size) give each field's offset from ``pos`` (0: absent)."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos

    @staticmethod
    def u32(buf: bytes, pos: int) -> int:
        return int(_read(buf, "<I", pos))

    def field(self, i: int) -> int | None:
        vtable = self.pos - _read(self.buf, "<i", self.pos)
        if 4 + 2 * i >= _read(self.buf, "<H", vtable):
            return None
        off = _read(self.buf, "<H", vtable + 4 + 2 * i)
        return self.pos + off if off else None

    def scalar(self, i: int, fmt: str, default: int = 0) -> int:
        at = self.field(i)
        return default if at is None else int(_read(self.buf, fmt, at))

    def table(self, i: int) -> _Flat | None:
        at = self.field(i)
        return None if at is None else _Flat(self.buf, at + self.u32(self.buf, at))

    def structs(self, i: int, longs: int) -> np.ndarray:
        """A vector of structs of ``longs`` int64 each, as an (n, longs) array."""
        at = self.field(i)
        if at is None:
            return np.zeros((0, longs), np.int64)
        vec = at + self.u32(self.buf, at)
        n = self.u32(self.buf, vec)
        if vec + 4 + 8 * longs * n > len(self.buf):
            raise ValueError("a flatbuffer vector past the end of the metadata")
        return np.frombuffer(self.buf, "<i8", longs * n, vec + 4).reshape(n, longs).astype(np.int64)


def _read(buf: bytes, fmt: str, pos: int) -> int:
    if pos < 0 or pos + struct.calcsize(fmt) > len(buf):
        raise ValueError("a flatbuffer offset past the end of the metadata")
    return int(struct.unpack_from(fmt, buf, pos)[0])
