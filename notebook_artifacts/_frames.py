"""Several contents in one upload body (``put_many`` over HTTP): length-prefixed frames.

Each item is a run of frames ``<8-byte big-endian length><bytes>`` ended by an empty frame,
items one after another. A sender need not know a content's size in advance (a file object is
streamed as it is read); the receiver, holding the spooled body, finds each item's frames by
reading only the 8-byte headers, then reads each item as a stream of its own.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterable
from typing import IO, Any, Union

from .errors import InvalidInputError

__all__ = ["FramedBody", "item_frames", "ItemReader"]

_HEAD = struct.Struct(">Q")
_CHUNK = 1 << 20


class FramedBody:
    """A read-only stream of the framed items (bytes, or binary file objects read in chunks),
    for an HTTP client to send as one file part."""

    def __init__(self, bodies: Iterable[Any]) -> None:
        self._bodies = iter(bodies)
        self._cur: Any = None
        self._done = False

    def read(self, n: int = -1) -> bytes:
        while not self._done:
            if self._cur is None:
                self._cur = next(self._bodies, None)
                if self._cur is None:
                    self._done = True
                    break
            body = self._cur
            if isinstance(body, (bytes, bytearray, memoryview)):
                if len(body):
                    self._cur = b""  # the next read ends the item
                    return _HEAD.pack(len(body)) + bytes(body)
                self._cur = None
                return _HEAD.pack(0)
            chunk = body.read(_CHUNK if n is None or n < 0 else max(n, 1))
            if chunk:
                return _HEAD.pack(len(chunk)) + bytes(chunk)
            self._cur = None
            return _HEAD.pack(0)
        return b""


Body = Union[bytes, str, "os.PathLike[str]"]


def _open_body(body: Body) -> IO[bytes]:
    """A framed body kept in memory (a small upload) or spooled to a file."""
    return io.BytesIO(body) if isinstance(body, bytes) else open(body, "rb")


def item_frames(body: Body, count: int) -> list[list[tuple[int, int]]]:
    """The ``(offset, length)`` of each item's frames in a framed body of ``count`` items
    (its bytes, or the path of its spooled file); InvalidInputError if the body does not
    hold exactly that."""
    items: list[list[tuple[int, int]]] = []
    size = len(body) if isinstance(body, bytes) else os.path.getsize(body)
    with _open_body(body) as f:
        pos = 0
        frames: list[tuple[int, int]] = []
        while pos < size:
            head = f.read(_HEAD.size)
            if len(head) < _HEAD.size:
                break
            (n,) = _HEAD.unpack(head)
            pos += _HEAD.size
            if n == 0:
                items.append(frames)
                frames = []
                continue
            if pos + n > size:
                break
            frames.append((pos, n))
            pos += n
            f.seek(pos)
        if pos != size or frames or len(items) != count:
            raise InvalidInputError(
                f"the upload body does not hold the {count} items its options describe; "
                "nothing was stored (send it again)")
    return items


class ItemReader:
    """One item of a spooled framed body, read as a binary stream (opened on first read)."""

    def __init__(self, body: Body, frames: list[tuple[int, int]],
                 name: str | None = None) -> None:
        self._body = body
        self._frames = list(frames)
        self._f: Any = None
        self._left = 0
        if name:
            self.name = name

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            if self._left == 0:
                if not self._frames:
                    break
                off, self._left = self._frames.pop(0)
                if self._f is None:
                    self._f = _open_body(self._body)
                self._f.seek(off)
            want = self._left if n < 0 else min(self._left, n - len(out))
            chunk = self._f.read(want)
            if not chunk:
                break
            out += chunk
            self._left -= len(chunk)
        if not self._frames and self._left == 0:
            self.close()
        return bytes(out)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        memoryview(b)[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
