"""Content-addressed blobs: the :class:`Blobs` interface, its staging area and the local files.

A blob is immutable and named by the SHA-256 of its content. Two implementations share one
interface (what the store, ``gc``, ``fsck``, export, the index and the server's downloads use):

- :class:`BlobStore`: local files ``<root>/blobs/sha256/ab/<digest>`` (the embedded default);
- :class:`~notebook_artifacts.storage.fsspec_blobs.FsspecBlobStore`: any fsspec URL
  (``s3://bucket/prefix`` first), chosen by :func:`open_blobs`.

Writing is staged on the local disk in both: content is copied in chunks into
``<root>/blobs/tmp/`` while it is hashed and fsynced (:class:`StagingArea`), so its digest is
known before it goes anywhere. :meth:`Blobs.prepare` then makes it durable where that is slow
(an upload; nothing for local files), and :meth:`Blobs.commit`, which the catalog calls inside
its write transaction, puts it in place (a rename here) so a concurrent ``gc`` can never remove
a blob a new version is about to use. Identical content is stored once. Nothing reads a file
whole.

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from ..errors import IntegrityError, InvalidInputError, NoSuchFileError

__all__ = ["Blobs", "BlobStore", "BlobEntry", "StagedBlob", "StagingArea", "StaleUpload",
           "open_blobs", "check_digest", "hash_stream", "CHUNK_SIZE", "HEAD_SIZE"]

CHUNK_SIZE = 1 << 20
HEAD_SIZE = 64 * 1024
_DIGEST_CHARS = set("0123456789abcdef")
_RESERVING = ".new"  # suffix of a temp file between its creation and its lock
_RESERVING_GRACE = 10.0


def check_digest(sha256: str) -> str:
    """``sha256`` if it is 64 lower-case hex digits, else InvalidInputError."""
    if not isinstance(sha256, str) or len(sha256) != 64 or not set(sha256) <= _DIGEST_CHARS:
        raise InvalidInputError(f"invalid sha256 digest {sha256!r}: 64 lower-case hex digits")
    return sha256


@dataclass
class StagedBlob:
    """Content written to a local temp file and hashed, not yet in place."""

    tmp_path: Path
    sha256: str
    size: int
    head: bytes  # the first HEAD_SIZE bytes, for MIME sniffing and previews
    lock_fd: int | None = None  # holds the temp file's flock until commit/discard
    prepared: bool = False  # the content is already at its final place (object storage)
    existed: bool = False  # identical content was stored before (found by prepare)

    def release(self) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


@dataclass(frozen=True)
class BlobEntry:
    """One entry found under the blob namespace.

    ``name``: its last path component; ``digest``: the digest when the entry is a blob at its
    right place (``sha256/<first two>/<digest>``), else None (a stray or misplaced entry).
    """

    name: str
    location: str
    digest: str | None


@dataclass(frozen=True)
class StaleUpload:
    """An upload a killed writer left unfinished on object storage (invisible, but billed)."""

    key: str
    upload_id: str
    location: str


@runtime_checkable
class Blobs(Protocol):
    """What the store, gc, fsck, export, the index and downloads need from blob storage.

    Writing: ``stage_*`` (or ``reserve_temp`` + ``adopt``) copy content into a local, locked,
    hashed temp file; ``prepare`` makes it durable where that is slow (before the catalog's
    write transaction); ``commit`` puts it in place inside that transaction; ``discard``
    drops it. Reading: ``open`` is a seekable stream checked against the digest at its end.
    Upkeep: ``iter_blobs`` lists every entry, ``place`` moves a misplaced one home,
    ``stale_temp_files`` / ``stale_uploads`` + ``drop_upload`` find and drop the leftovers of
    killed writers. ``presigned_url`` is the store's own signed GET URL, or None.
    """

    tmp: Path  #: the local staging directory (``<root>/blobs/tmp``)

    def stage_stream(self, stream: Any) -> StagedBlob: ...
    def stage_bytes(self, data: bytes | bytearray | memoryview) -> StagedBlob: ...
    def stage_file(self, path: str | os.PathLike[str]) -> StagedBlob: ...
    def reserve_temp(self) -> tuple[Path, int]: ...
    def adopt(self, tmp_path: Path, lock_fd: int | None = None) -> StagedBlob: ...
    def prepare(self, staged: StagedBlob) -> None: ...
    def commit(self, staged: StagedBlob) -> bool: ...
    def discard(self, staged: StagedBlob | None) -> None: ...
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int | None: ...
    def open(self, sha256: str) -> IO[bytes]: ...
    def verify(self, sha256: str) -> bool: ...
    def remove(self, sha256: str) -> int: ...
    def location(self, sha256: str) -> str: ...
    def iter_blobs(self) -> Iterator[BlobEntry]: ...
    def place(self, entry: BlobEntry) -> bool: ...
    def stale_temp_files(self, grace: float = 0.0) -> list[Path]: ...
    def stale_uploads(self, grace: float) -> list[StaleUpload]: ...
    def drop_upload(self, upload: StaleUpload) -> None: ...
    def presigned_url(self, sha256: str, expires_in: int, *, filename: str | None = None,
                      mime_type: str | None = None) -> str | None: ...


def open_blobs(root: str | os.PathLike[str], url: str | None = None,
               options: Mapping[str, Any] | None = None) -> Blobs:
    """The blob storage of a store: local files under ``root`` when ``url`` is None, else
    the fsspec URL (``s3://bucket/prefix``, ``gs://``, ``abfs://``, ``file://``); ``root``
    then holds only the local staging area."""
    if url is None or url == "":
        if options:
            raise InvalidInputError("blobs_options needs blobs=URL (an fsspec URL such as s3://bucket/prefix)")
        return BlobStore(root)
    from .fsspec_blobs import FsspecBlobStore

    return FsspecBlobStore(url, root, options)


class StagingArea:
    """Local temp files for content on its way into blob storage (``<root>/blobs/tmp``)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)

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

    def discard(self, staged: StagedBlob | None) -> None:
        if staged is not None:
            staged.tmp_path.unlink(missing_ok=True)
            staged.release()


class BlobStore(StagingArea):
    """Immutable blobs named by their SHA-256 under ``<root>/blobs`` (the local backend)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.base = Path(root) / "blobs"
        self.objects = self.base / "sha256"
        self.objects.mkdir(parents=True, exist_ok=True)
        super().__init__(self.base / "tmp")

    def __repr__(self) -> str:
        return f"BlobStore({str(self.base)!r})"

    # -- reading -----------------------------------------------------------------------
    def path(self, sha256: str) -> Path:
        """Where the blob with this digest lives (whether or not it exists)."""
        check_digest(sha256)
        return self.objects / sha256[:2] / sha256

    def location(self, sha256: str) -> str:
        return str(self.path(sha256))

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int | None:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            return None

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
        return io.BufferedReader(_VerifiedReader(f, sha256, os.fstat(f.fileno()).st_size),
                                 CHUNK_SIZE)

    def verify(self, sha256: str) -> bool:
        """True when the blob exists and its content still hashes to its name."""
        try:
            with open(self.path(sha256), "rb") as f:
                return hash_stream(f) == sha256
        except FileNotFoundError:
            return False

    def iter_blobs(self) -> Iterator[BlobEntry]:
        """Every entry under ``blobs/sha256``, including misplaced names."""
        if not self.objects.is_dir():
            return
        for sub in sorted(self.objects.iterdir()):
            if not sub.is_dir():
                yield BlobEntry(sub.name, str(sub), None)
                continue
            for p in sorted(sub.iterdir()):
                placed = (len(p.name) == 64 and set(p.name) <= _DIGEST_CHARS
                          and p.name[:2] == sub.name and p.is_file())
                yield BlobEntry(p.name, str(p), p.name if placed else None)

    def place(self, entry: BlobEntry) -> bool:
        """Move a misplaced blob named by its digest to its place; False if not possible."""
        name = entry.name
        if len(name) != 64 or not set(name) <= _DIGEST_CHARS or self.exists(name):
            return False
        src = Path(entry.location)
        if not src.is_file():
            return False
        self.path(name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, self.path(name))
        return True

    def stale_uploads(self, grace: float) -> list[StaleUpload]:
        return []  # local writes leave only temp files (stale_temp_files)

    def drop_upload(self, upload: StaleUpload) -> None:
        raise InvalidInputError("local blob storage has no uploads to drop")

    def presigned_url(self, sha256: str, expires_in: int, *, filename: str | None = None,
                      mime_type: str | None = None) -> str | None:
        return None  # local files are served by the server itself

    # -- writing -----------------------------------------------------------------------
    def prepare(self, staged: StagedBlob) -> None:
        """Nothing to do before the catalog transaction: :meth:`commit` is a rename."""

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


def hash_stream(f: IO[bytes]) -> str:
    """The SHA-256 hex digest of what is left in ``f``, read in chunks."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK_SIZE)
    view = memoryview(buf)
    readinto = getattr(f, "readinto", None)
    if readinto is not None:
        while n := readinto(buf):
            h.update(view[:n])
    else:
        while chunk := f.read(CHUNK_SIZE):
            h.update(chunk)
    return h.hexdigest()


class _VerifiedReader(io.RawIOBase):
    """A blob file that hashes what is read; the read reaching the end raises IntegrityError
    if the content does not match its digest. After a seek elsewhere (an HTTP Range) the
    bytes cannot be checked without reading the whole blob, and are served unchecked."""

    def __init__(self, f: Any, sha256: str, size: int):
        self._f = f
        self._sha256 = sha256
        self._hash = hashlib.sha256()
        self._pos = 0
        self._size = size
        self._checking = True
        self._failed = False
        self.name = getattr(f, "name", None) or getattr(f, "path", sha256)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        fileno = getattr(self._f, "fileno", None)
        if fileno is None:
            raise io.UnsupportedOperation("fileno")
        return fileno()

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
        readinto = getattr(self._f, "readinto", None)
        if readinto is not None:
            n = readinto(b) or 0
        else:  # an fsspec file without readinto
            data = self._f.read(len(b))
            n = len(data)
            memoryview(b)[:n] = data
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
    return isinstance(stream, io.TextIOBase)
