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
a blob a new version is about to use. Identical content is stored once. Nothing reads a large
file whole (files up to 1 MiB are read in one call); a large file is copied in one pass, each
chunk hashed and written from one buffer. Content the local store already holds (same
digest) is only read, never written. Many writes (``put_many``) stage without fsync and are
made durable together (:meth:`StagingArea.make_durable`: one ``syncfs``, one journal commit).

A temp file is ``flock``-ed by its writer from creation until it is renamed or discarded, so
``fsck``/``gc`` can tell the leftovers of a killed writer (unlocked) from a put in progress.
On Linux, content held in memory (small puts, ``put_many``) is hashed first and written to
an unnamed file (``O_TMPFILE``) in its final directory, which the commit links in: no temp
name to create, lock and rename, and nothing a killed writer could leave behind.
"""

from __future__ import annotations

import errno
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
#: the buffer a local copy or hash reads into, again and again: small enough to stay in the
#: CPU's L2 cache between the read, the hash and the write (a 256 MiB put in a fresh process:
#: 0.52 s with 128 KiB against 0.58 s with 1 MiB; the raw copy + fsync + sha256 0.51-0.53 s)
BUFFER_SIZE = 128 << 10
HEAD_SIZE = 64 * 1024
#: files up to this size are read whole (one read); larger ones are copied in chunks
SMALL_FILE = 1 << 20
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

    tmp_path: Path  # None when nothing was written (see ``source``)
    sha256: str
    size: int
    head: bytes  # the first HEAD_SIZE bytes, for MIME sniffing and previews
    lock_fd: int | None = None  # holds the temp file's flock until commit/discard
    prepared: bool = False  # the content is already at its final place (object storage)
    existed: bool = False  # identical content was stored before (found by prepare)
    #: ``tmp_path`` is None: identical content is already in place and nothing was written;
    #: ``source`` (the bytes, or the file) rewrites it should it vanish before the commit
    source: bytes | Path | None = None
    durable: bool = True  # the temp file is fsynced (False until make_durable)
    #: the temp file has no name (``O_TMPFILE`` in its final directory): ``lock_fd`` is it,
    #: and the commit links it in; a crash leaves nothing behind
    unnamed: bool = False

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
    hashed temp file (``durable=False``: fsynced later, with others, by ``make_durable``);
    ``prepare`` makes it durable where that is slow (before the catalog's write transaction);
    ``commit`` puts it in place inside that transaction (``flush`` makes a batch of commits
    durable); ``discard`` drops it. Reading: ``open`` is a seekable stream checked against
    the digest at its end.
    Upkeep: ``iter_blobs`` lists every entry, ``place`` moves a misplaced one home,
    ``stale_temp_files`` / ``stale_uploads`` + ``drop_upload`` find and drop the leftovers of
    killed writers. ``presigned_url`` is the store's own signed GET URL, or None.
    """

    tmp: Path  #: the local staging directory (``<root>/blobs/tmp``)
    #: identical content is found locally before writing (``stage_file(dedup=True)`` pays off)
    dedup_local: bool

    def stage_stream(self, stream: Any, *, durable: bool = True) -> StagedBlob: ...
    def stage_bytes(self, data: bytes | bytearray | memoryview, *, durable: bool = True) -> StagedBlob: ...
    def stage_file(self, path: str | os.PathLike[str], *, durable: bool = True,
                   dedup: bool = False) -> StagedBlob: ...
    def reserve_temp(self) -> tuple[Path, int]: ...
    def adopt(self, tmp_path: Path, lock_fd: int | None = None) -> StagedBlob: ...
    def prepare(self, staged: StagedBlob) -> None: ...
    def commit(self, staged: StagedBlob) -> bool: ...
    def discard(self, staged: StagedBlob | None) -> None: ...
    def make_durable(self, staged: list[StagedBlob]) -> None: ...
    def flush(self, staged: list[StagedBlob]) -> None: ...
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
        while True:
            stem = secrets.token_hex(8)
            fresh = self.tmp / f"{stem}{_RESERVING}"
            try:
                fd = os.open(fresh, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
            except FileExistsError:
                continue
            except FileNotFoundError:  # the staging directory was removed: make it again
                self.tmp.mkdir(parents=True, exist_ok=True)
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

    #: True where :meth:`_known` is a cheap local check (local files): identical content is
    #: then hashed first and never written again
    dedup_local = False

    def _known(self, sha256: str, size: int, data: bytes | None = None) -> bool:
        """Whether sound content with this digest is already in place (checked before
        writing): ``data`` (small content) is compared with it byte for byte."""
        return False

    def stage_stream(self, stream: Any, *, durable: bool = True) -> StagedBlob:
        """Copy ``stream`` (binary, or text encoded as UTF-8) into a temp file while hashing."""
        tmp, lock_fd = self.reserve_temp()
        h = hashlib.sha256()
        size = 0
        head = bytearray()
        try:
            with os.fdopen(os.dup(lock_fd), "wb") as out:
                readinto = getattr(stream, "readinto", None)
                if readinto is not None and not _is_text_stream(stream):
                    buf = bytearray(BUFFER_SIZE)
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
                _settle(out.fileno(), durable)
        except BaseException:
            tmp.unlink(missing_ok=True)
            os.close(lock_fd)
            raise
        return StagedBlob(tmp, h.hexdigest(), size, bytes(head), lock_fd, durable=durable)

    def stage_bytes(self, data: bytes | bytearray | memoryview, *, durable: bool = True
                    ) -> StagedBlob:
        """Stage content held in memory: hashed first, written only when it is new here."""
        data = bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        head = data[:HEAD_SIZE]
        if self.dedup_local and self._known(sha, len(data), data):
            return StagedBlob(None, sha, len(data), head, existed=True, source=data)  # type: ignore[arg-type]
        fd = self._unnamed_temp(sha)
        tmp = None
        if fd is None:
            tmp, fd = self.reserve_temp()
        try:
            _write_all(fd, data)
            _settle(fd, durable)
        except BaseException:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            os.close(fd)
            raise
        return StagedBlob(tmp, sha, len(data), head, fd, durable=durable,  # type: ignore[arg-type]
                          unnamed=tmp is None)

    def _unnamed_temp(self, sha256: str) -> int | None:
        """A temp file without a name where content with this digest will live, or None
        where that is not possible (then :meth:`reserve_temp`)."""
        return None

    def stage_file(self, path: str | os.PathLike[str], *, durable: bool = True,
                   dedup: bool = False) -> StagedBlob:
        """Stage a file: read whole when small; else copied in one pass (hashed as it is
        written). ``dedup``: identical content may well be stored already (the catalog knows
        a version of this size), so hash first and write only if it is new here (one read,
        no write for a repeat)."""
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise NoSuchFileError(f"no such file: {os.fspath(path)}", os.fspath(path)) from None
        with f:
            st = os.fstat(f.fileno())
            if stat.S_ISREG(st.st_mode) and st.st_size <= SMALL_FILE:
                data = f.read(SMALL_FILE + 1)
                if len(data) <= SMALL_FILE:
                    return self.stage_bytes(data, durable=durable)
                f.seek(0)  # it grew meanwhile
            sha = None
            if dedup and self.dedup_local and stat.S_ISREG(st.st_mode):
                sha, size, head = _hash_file(f)
                if self._known(sha, size):
                    return StagedBlob(None, sha, size, head, existed=True,  # type: ignore[arg-type]
                                      source=Path(path))
                f.seek(0)
            staged = self.stage_stream(f, durable=durable)
        if sha is not None and staged.sha256 != sha:
            self.discard(staged)
            raise InvalidInputError(f"{os.fspath(path)!r} changed while it was being stored; "
                                    "nothing was stored: put it again once it is written")
        return staged

    def make_durable(self, staged: list[StagedBlob]) -> None:
        """Make every temp file staged with ``durable=False`` durable: a few are fsynced one
        by one; a batch with one ``syncfs`` of the file system (one journal commit and one
        cache flush for all, not one per file), unless much else waits to be written (then
        the syncfs would wait for that too) or there is no syncfs: then fsynced one by one."""
        pending = [s for s in staged if not s.durable and s.lock_fd is not None]
        batch = len(pending) > _FSYNC_EACH_UP_TO
        if batch and not _much_else_unwritten(sum(s.size for s in pending)) \
                and _syncfs(pending[0].lock_fd):  # type: ignore[arg-type]
            for s in pending:
                s.durable = True
            return
        for s in pending:
            os.fsync(s.lock_fd)  # type: ignore[arg-type]
            s.durable = True

    def _refill(self, staged: StagedBlob) -> None:
        """Write the content of a staged blob that skipped its write (identical content was in
        place) because that content has gone since (a delete or gc in between)."""
        src = staged.source
        if isinstance(src, Path):
            fresh = self.stage_file(src)
        elif src is not None:
            fresh = self.stage_bytes(src)
        else:  # pragma: no cover - a staged blob without a temp file always has a source
            raise IntegrityError(f"staged content {staged.sha256[:12]}... has nothing to write")
        if fresh.sha256 != staged.sha256:
            self.discard(fresh)
            raise InvalidInputError(f"{os.fspath(src)!r} changed while it was being stored; "  # type: ignore[arg-type]
                                    "nothing was stored: put it again once it is written")
        staged.tmp_path, staged.lock_fd, staged.durable = fresh.tmp_path, fresh.lock_fd, True
        staged.unnamed = fresh.unnamed

    def adopt(self, tmp_path: Path, lock_fd: int | None = None) -> StagedBlob:
        """Hash a temp file already written (from :meth:`reserve_temp`, e.g. by to_parquet)."""
        h = hashlib.sha256()
        size = 0
        head = b""
        try:
            with open(tmp_path, "rb+") as f:
                buf = bytearray(BUFFER_SIZE)
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
            if staged.tmp_path is not None and not staged.unnamed:
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

    dedup_local = True

    #: whether unnamed temp files (``O_TMPFILE``, named through ``/proc/self/fd``) work
    #: here; set False for the process by the first file system that refuses them
    unnamed_temps = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")

    def _unnamed_temp(self, sha256: str) -> int | None:
        # O_TMPFILE in the blob's own directory: no temp name to create, lock and rename,
        # nothing left behind by a crash, and its fsync need not sync a directory
        if not self.unnamed_temps:
            return None
        where = os.path.join(self.objects, sha256[:2])
        for first_try in (True, False):
            try:
                return os.open(where, os.O_TMPFILE | os.O_WRONLY, 0o444)
            except FileNotFoundError:  # the first blob of its fan-out directory
                if not first_try:
                    raise
                os.makedirs(where, exist_ok=True)
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                    raise
                BlobStore.unnamed_temps = False  # this file system or kernel has none
                return None
        return None  # pragma: no cover - the loop returns or raises

    def _known(self, sha256: str, size: int, data: bytes | None = None) -> bool:
        # a damaged copy is not "known": the verified bytes staged now replace it. Small
        # content is compared whole (a read instead of a write + fsync); a large file's copy
        # only by size (one read of the source and nothing else: fsck verifies content)
        where = os.path.join(self.objects, sha256[:2], sha256)
        if not os.access(where, os.F_OK):  # the usual answer, without an exception raised
            return False
        try:
            with open(where, "rb") as f:
                if os.fstat(f.fileno()).st_size != size:
                    return False
                return data is None or f.read(size + 1) == data
        except (FileNotFoundError, NotADirectoryError):
            return False

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
        final = os.path.join(self.objects, staged.sha256[:2], staged.sha256)
        try:
            if staged.unnamed:
                return self._link_in(staged.lock_fd, final)  # type: ignore[arg-type]
            if staged.tmp_path is None:  # nothing written: identical content was in place
                if os.path.isfile(final):
                    return False
                self._refill(staged)  # it went meanwhile (a delete, gc): write it after all
            existed = os.path.exists(final)
            os.chmod(staged.tmp_path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            # replace an existing copy too: same bytes when it is sound, and a damaged copy
            # is healed by the verified bytes just staged (no extra I/O: they are written)
            try:
                os.replace(staged.tmp_path, final)
            except FileNotFoundError:  # the first blob of its fan-out directory
                os.makedirs(os.path.dirname(final), exist_ok=True)
                os.replace(staged.tmp_path, final)
            return not existed
        finally:
            staged.release()

    def _link_in(self, fd: int, final: str) -> bool:
        """Give the unnamed temp file ``fd`` the name ``final``; True if it was new. An
        existing copy is replaced, as a rename replaces it (a damaged copy is healed): the
        file is linked into the staging area first, locked, so a crash leaves only a temp
        file that gc and fsck clean up. The fan-out directory may have gone since the file
        was opened in it (a delete or gc of its last blob removes it): it is made again."""
        for first_try in (True, False):
            try:
                _link_fd(fd, final)
                return True
            except FileExistsError:
                break
            except FileNotFoundError:
                if not first_try:
                    raise
                os.makedirs(os.path.dirname(final), exist_ok=True)
        fcntl.flock(fd, fcntl.LOCK_EX)
        tmp = self.tmp / f"{secrets.token_hex(8)}.tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        _link_fd(fd, tmp)
        os.replace(tmp, final)
        return False

    def flush(self, staged: list[StagedBlob]) -> None:
        """Make the renames of committed blobs durable: one ``syncfs`` for a batch (as
        :meth:`make_durable` chooses), else an fsync of each directory they went to."""
        dirs = sorted({os.path.join(self.objects, s.sha256[:2]) for s in staged})
        if len(dirs) > _FSYNC_EACH_UP_TO and not _much_else_unwritten(0):
            fd = os.open(self.objects, os.O_RDONLY)
            try:
                if _syncfs(fd):
                    return
            finally:
                os.close(fd)
        for d in dirs:
            fd = os.open(d, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

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


def _link_fd(fd: int, path: str | os.PathLike[str]) -> None:
    """Name the open file ``fd`` ``path``: ``linkat`` of ``/proc/self/fd/N``, following the
    link (an ``O_TMPFILE`` file gets its name this way). Passing a dir fd makes ``os.link``
    call ``linkat``; for an absolute source path the kernel ignores which one it is."""
    os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=fd, follow_symlinks=True)


def hash_stream(f: IO[bytes]) -> str:
    """The SHA-256 hex digest of what is left in ``f``, read in chunks."""
    h = hashlib.sha256()
    buf = bytearray(BUFFER_SIZE)
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


def _write_all(fd: int, data: Any) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _hash_file(f: IO[bytes]) -> tuple[str, int, bytes]:
    """``(sha256, size, head)`` of what is left in ``f``, read in chunks."""
    h = hashlib.sha256()
    buf = bytearray(BUFFER_SIZE)
    view = memoryview(buf)
    size = 0
    head = b""
    while n := f.readinto(buf):
        h.update(view[:n])
        if size < HEAD_SIZE:
            head += bytes(view[: min(n, HEAD_SIZE - size)])
        size += n
    return h.hexdigest(), size, head


#: a batch of more files than this is made durable with one syncfs instead of an fsync each
_FSYNC_EACH_UP_TO = 4
_libc_syncfs: Any = None


#: a batch is made durable with one syncfs only while the machine holds less unwritten
#: data than this besides the batch's own: syncfs writes out everything on the file system,
#: so a gigabyte another program has not written yet would make the batch wait for all of it
#: (measured: put_many of 1,000 files at 718/s after 1 GiB was left unwritten, 3,288/s
#: before; an fsync of each file: 2,196/s and 1,488/s)
_SYNCFS_BESIDE_UP_TO = 64 << 20


def _much_else_unwritten(own: int, meminfo: str = "/proc/meminfo") -> bool:
    """Whether the machine holds more than ``own`` + :data:`_SYNCFS_BESIDE_UP_TO` bytes not
    yet on disk (Linux: ``Dirty`` + ``Writeback``); False where that is not known."""
    try:
        with open(meminfo, "rb") as f:
            text = f.read()
    except OSError:
        return False
    kib = sum(int(line.split()[1]) for line in text.splitlines()
              if line.startswith((b"Dirty:", b"Writeback:")))
    return kib * 1024 > own + _SYNCFS_BESIDE_UP_TO


def _syncfs(fd: int) -> bool:
    """``syncfs(2)`` of the file system holding ``fd`` (Linux): every file written there is
    durable when it returns True; False where the call is missing (then fsync each file)."""
    global _libc_syncfs
    if _libc_syncfs is None:
        _libc_syncfs = False
        try:
            import ctypes

            fn = ctypes.CDLL(None, use_errno=True).syncfs
            fn.argtypes = (ctypes.c_int,)
            _libc_syncfs = fn
        except (OSError, AttributeError, ImportError):
            pass
    if not _libc_syncfs:
        return False
    if _libc_syncfs(fd) != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"syncfs failed: {os.strerror(err)}")
    return True


def _settle(fd: int, durable: bool) -> None:
    """fsync now, or leave it to :meth:`StagingArea.make_durable` (a batch: one syncfs)."""
    if durable:
        os.fsync(fd)
