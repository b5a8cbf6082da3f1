"""Content-addressed blob files: ``<root>/blobs/sha256/ab/<digest>``.

Content is copied in chunks into ``blobs/tmp/`` while it is hashed, fsynced, and only then
renamed into place (:meth:`BlobStore.commit`, which the catalog calls inside its write
transaction so a concurrent ``gc`` can never remove a blob a new version is about to use).
Identical content is stored once. Nothing here reads a file whole.

A temp file is ``flock``-ed by its writer from creation until it is renamed or discarded, so
``fsck``/``gc`` can tell the leftovers of a killed writer (unlocked) from a put in progress.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..errors import IntegrityError, InvalidInputError, NoSuchFileError

__all__ = ["BlobStore", "StagedBlob", "CHUNK_SIZE", "HEAD_SIZE"]

CHUNK_SIZE = 1 << 20
HEAD_SIZE = 64 * 1024
_DIGEST_CHARS = set("0123456789abcdef")
_RESERVING = ".new"  # suffix of a temp file between its creation and its lock
_RESERVING_GRACE = 10.0


@dataclass
class StagedBlob:
    """Content written to a temp file and hashed, not yet in place."""

    tmp_path: Path
    sha256: str
    size: int
    head: bytes  # the first HEAD_SIZE bytes, for MIME sniffing and previews
    lock_fd: int | None = None  # holds the temp file's flock until commit/discard

    def release(self) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


class BlobStore:
    """Immutable blobs named by their SHA-256 under ``<root>/blobs``."""

    def __init__(self, root: str | os.PathLike[str]):
        self.base = Path(root) / "blobs"
        self.objects = self.base / "sha256"
        self.tmp = self.base / "tmp"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    # -- reading -----------------------------------------------------------------------
    def path(self, sha256: str) -> Path:
        """Where the blob with this digest lives (whether or not it exists)."""
        if len(sha256) != 64 or not set(sha256) <= _DIGEST_CHARS:
            raise InvalidInputError(f"invalid sha256 digest {sha256!r}: 64 lower-case hex digits")
        return self.objects / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> IO[bytes]:
        """A binary read stream of the blob that checks the content against its digest.

        IntegrityError if the blob is missing, or (raised by the read that reaches the end)
        if its content no longer matches: a damaged blob is never read to a clean end.
        """
        try:
            f = open(self.path(sha256), "rb")
        except FileNotFoundError:
            raise IntegrityError(
                f"blob {sha256[:12]}... is missing from {self.objects}; run `notebook-artifacts fsck`"
            ) from None
        return io.BufferedReader(_VerifiedReader(f, sha256), CHUNK_SIZE)

    def verify(self, sha256: str) -> bool:
        """True when the blob exists and its content still hashes to its name."""
        h = hashlib.sha256()
        try:
            with open(self.path(sha256), "rb") as f:
                buf = bytearray(CHUNK_SIZE)
                view = memoryview(buf)
                while n := f.readinto(buf):
                    h.update(view[:n])
        except FileNotFoundError:
            return False
        return h.hexdigest() == sha256

    def iter_blobs(self) -> Iterator[tuple[str, Path]]:
        """Every ``(digest, path)`` under ``blobs/sha256``, including misplaced names."""
        if not self.objects.is_dir():
            return
        for sub in sorted(self.objects.iterdir()):
            if not sub.is_dir():
                yield sub.name, sub
                continue
            for p in sorted(sub.iterdir()):
                yield p.name, p

    def stale_temp_files(self, grace: float = 0.0) -> list[Path]:
        """Temp files no live writer holds (left by a killed or crashed put).

        ``grace``: also skip files modified in the last ``grace`` seconds.
        """
        now = time.time()
        out = []
        for p in self.tmp.iterdir() if self.tmp.is_dir() else ():
            try:
                age = now - p.stat().st_mtime
                if age < grace or (p.name.endswith(_RESERVING) and age < _RESERVING_GRACE):
                    continue  # a .new file is renamed to .tmp microseconds after creation
                fd = os.open(p, os.O_RDONLY)
            except (FileNotFoundError, IsADirectoryError):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a writer is still working on it
            finally:
                os.close(fd)
            out.append(p)
        return out

    # -- writing -----------------------------------------------------------------------
    def reserve_temp(self) -> tuple[Path, int]:
        """Create and lock a new temp file: ``(path, lock_fd)``; pass both to :meth:`adopt`.

        The file is created as ``<hex>.new``, locked, then renamed to ``<hex>.tmp``, so a
        ``.tmp`` file is never visible unlocked while its writer lives.
        """
        self.tmp.mkdir(parents=True, exist_ok=True)
        while True:
            stem = secrets.token_hex(8)
            fresh = self.tmp / f"{stem}{_RESERVING}"
            try:
                fd = os.open(fresh, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
            except FileExistsError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                path = self.tmp / f"{stem}.tmp"
                os.replace(fresh, path)
            except BaseException:
                fresh.unlink(missing_ok=True)
                os.close(fd)
                raise
            return path, fd

    def stage_stream(self, stream: Any) -> StagedBlob:
        """Copy ``stream`` (binary, or text encoded as UTF-8) into a temp file while hashing."""
        tmp, lock_fd = self.reserve_temp()
        h = hashlib.sha256()
        size = 0
        head = bytearray()
        try:
            with os.fdopen(os.dup(lock_fd), "wb") as out:
                readinto = getattr(stream, "readinto", None)
                if readinto is not None and not _is_text_stream(stream):
                    buf = bytearray(CHUNK_SIZE)
                    view = memoryview(buf)
                    while True:
                        n = readinto(buf)
                        if not n:
                            break
                        chunk = view[:n]
                        h.update(chunk)
                        out.write(chunk)
                        if len(head) < HEAD_SIZE:
                            head += chunk[: HEAD_SIZE - len(head)]
                        size += n
                else:
                    while True:
                        chunk = stream.read(CHUNK_SIZE)
                        if not chunk:
                            break
                        if isinstance(chunk, str):
                            chunk = chunk.encode("utf-8")
                        elif not isinstance(chunk, (bytes, bytearray, memoryview)):
                            raise InvalidInputError(
                                f"the file object's read() returned {type(chunk).__name__}, not "
                                "bytes; pass a binary file object (for an async upload, its .file)"
                            )
                        h.update(chunk)
                        out.write(chunk)
                        if len(head) < HEAD_SIZE:
                            head += chunk[: HEAD_SIZE - len(head)]
                        size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            os.close(lock_fd)
            raise
        return StagedBlob(tmp, h.hexdigest(), size, bytes(head), lock_fd)

    def stage_bytes(self, data: bytes | bytearray | memoryview) -> StagedBlob:
        import io

        return self.stage_stream(io.BytesIO(bytes(data)))

    def stage_file(self, path: str | os.PathLike[str]) -> StagedBlob:
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise NoSuchFileError(f"no such file: {os.fspath(path)}", os.fspath(path)) from None
        with f:
            return self.stage_stream(f)

    def adopt(self, tmp_path: Path, lock_fd: int | None = None) -> StagedBlob:
        """Hash a temp file already written (from :meth:`reserve_temp`, e.g. by to_parquet)."""
        h = hashlib.sha256()
        size = 0
        head = b""
        try:
            with open(tmp_path, "rb+") as f:
                buf = bytearray(CHUNK_SIZE)
                view = memoryview(buf)
                while n := f.readinto(buf):
                    h.update(view[:n])
                    if size < HEAD_SIZE:
                        head += bytes(view[: min(n, HEAD_SIZE - size)])
                    size += n
                os.fsync(f.fileno())
        except BaseException:
            Path(tmp_path).unlink(missing_ok=True)
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        return StagedBlob(Path(tmp_path), h.hexdigest(), size, head, lock_fd)

    def commit(self, staged: StagedBlob) -> bool:
        """Move a staged blob into place; True if it was new (False: identical content existed)."""
        final = self.path(staged.sha256)
        try:
            existed = final.exists()
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(staged.tmp_path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            # replace an existing copy too: same bytes when it is sound, and a damaged copy
            # is healed by the verified bytes just staged (no extra I/O: they are written)
            os.replace(staged.tmp_path, final)
            return not existed
        finally:
            staged.release()

    def discard(self, staged: StagedBlob | None) -> None:
        if staged is not None:
            staged.tmp_path.unlink(missing_ok=True)
            staged.release()

    def remove(self, sha256: str) -> int:
        """Delete a blob; returns the bytes freed (0 if it was not there)."""
        p = self.path(sha256)
        try:
            size = p.stat().st_size
            p.unlink()
        except FileNotFoundError:
            return 0
        try:
            p.parent.rmdir()
        except OSError:
            pass
        return size


class _VerifiedReader(io.RawIOBase):
    """A blob file that hashes what is read; the read reaching the end raises IntegrityError
    if the content does not match its digest. After a seek elsewhere (an HTTP Range) the
    bytes cannot be checked without reading the whole blob, and are served unchecked."""

    def __init__(self, f: IO[bytes], sha256: str):
        self._f = f
        self._sha256 = sha256
        self._hash = hashlib.sha256()
        self._pos = 0
        self._size = os.fstat(f.fileno()).st_size
        self._checking = True
        self._failed = False
        self.name = f.name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._f.fileno()

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        pos = self._f.seek(offset, whence)
        if pos != self._pos:
            self._checking = False
        self._pos = pos
        return pos

    def readinto(self, b: Any) -> int:
        if self._failed:
            raise self._error()
        n = self._f.readinto(b) or 0
        if self._checking:
            self._hash.update(memoryview(b)[:n])
            if n == 0 or self._pos + n >= self._size:
                self._checking = False
                if self._hash.hexdigest() != self._sha256:
                    self._failed = True
                    raise self._error()
        self._pos += n
        return n

    def readall(self) -> bytes:
        out = bytearray()
        buf = bytearray(CHUNK_SIZE)
        while n := self.readinto(buf):
            out += memoryview(buf)[:n]
        return bytes(out)

    def _error(self) -> IntegrityError:
        return IntegrityError(
            f"blob {self._sha256[:12]}... is damaged: its content no longer matches its digest; "
            "run `notebook-artifacts fsck` and put the file again"
        )

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


def _is_text_stream(stream: Any) -> bool:
    import io

    return isinstance(stream, io.TextIOBase)
