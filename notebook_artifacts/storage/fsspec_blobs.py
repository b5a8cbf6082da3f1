"""Blobs on any fsspec URL: ``s3://bucket/prefix`` first, and ``gs://``, ``abfs://``,
``file://`` through the same code. Keys are content-addressed as on disk:
``<prefix>/sha256/ab/<digest>``.

How a put travels, and why
--------------------------
Content is first spooled to a local temp file while it is hashed (the same
:class:`~notebook_artifacts.storage.blobs.StagingArea` as the local backend), and only then
uploaded to its digest key. The alternative, hashing while streaming to a temporary key and
then copying to the digest key, was rejected because:

* the digest is known before anything is sent, so content the store already holds is never
  uploaded again (one HEAD instead of a transfer), and nothing has to be copied server-side
  afterwards (S3 has no rename: a copy of a large object costs as much as a second upload);
* an S3 object appears atomically when its single PUT or its CompleteMultipartUpload
  succeeds, so uploading straight to the digest key never shows a partial blob: a writer
  killed mid-upload leaves only an unfinished multipart upload (invisible; listed by
  ``fsck`` and aborted by ``gc`` after :data:`~notebook_artifacts.storage.fsck.UPLOAD_GRACE_SECONDS`)
  and its local spool file (unlocked, so removed at once);
* the upload runs from a seekable local file, so s3fs sends it as a multipart upload of
  :data:`PART_SIZE` parts, :data:`UPLOAD_CONCURRENCY` at a time: memory stays flat whatever
  the size, about twice ``part_size * upload_concurrency`` (botocore holds a copy of each part
  in flight), ~34 MiB by default. s3fs' own defaults would read a file under 100 MiB whole,
  and hold 10 x 50 MiB parts at once above that. ``blobs_options`` may set ``part_size``
  (>= 5 MiB) and ``upload_concurrency``.

The cost is local disk for the spool (``root`` keeps only such per-machine files). On
filesystems where a write is not atomic (``file://``, anything but S3, GCS and Azure), the
upload goes to ``<prefix>/tmp/<random>.part`` and is then moved to its digest key.

The upload happens in :meth:`FsspecBlobStore.prepare`, before the catalog's write
transaction; :meth:`~FsspecBlobStore.commit`, inside it, only checks (one HEAD) that the
object is still there: ``gc`` removes orphans under the same write lock, so an object it
removed in between is uploaded again from the spool before the version is recorded.

Reads stream: :meth:`~FsspecBlobStore.open` is seekable. On S3 it is one streamed GET from
the current position, sent again with a ``Range`` only after a seek (so a ``Range`` download
reads only its range, and a whole read is one request); elsewhere it is the filesystem's file
fetching :data:`READ_BLOCK` ahead. Directory listings are
never cached (``use_listings_cache=False``): another machine may write or delete at any time.
"""

from __future__ import annotations

import io
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from ..errors import IntegrityError, InvalidInputError, NotFoundError
from .blobs import (
    CHUNK_SIZE,
    BlobEntry,
    StagedBlob,
    StagingArea,
    StaleUpload,
    _VerifiedReader,
    check_digest,
    hash_stream,
)

__all__ = ["FsspecBlobStore", "PART_SIZE", "UPLOAD_CONCURRENCY", "READ_BLOCK"]

#: multipart part size (S3's minimum is 5 MiB); a file under twice this goes in one PUT
PART_SIZE = 8 << 20
#: parts in flight at once: memory held by an upload is about PART_SIZE * UPLOAD_CONCURRENCY
UPLOAD_CONCURRENCY = 2
#: bytes fetched ahead per ranged read on filesystems other than S3 (S3 reads stream)
READ_BLOCK = 4 << 20

_HEX = set("0123456789abcdef")
_S3 = {"s3", "s3a"}
#: object stores whose writes appear atomically when complete
_ATOMIC = _S3 | {"gs", "gcs", "abfs", "abfss", "az"}


class FsspecBlobStore(StagingArea):
    """Immutable blobs named by their SHA-256 under an fsspec URL."""

    def __init__(self, url: str, root: str | os.PathLike[str],
                 options: Mapping[str, Any] | None = None):
        try:
            import fsspec
        except ImportError:
            raise InvalidInputError(
                f"blobs={url!r} needs fsspec: pip install 'notebook-artifacts[s3]'") from None
        if not isinstance(url, str) or "://" not in url:
            raise InvalidInputError(
                f"invalid blobs URL {url!r}: give an fsspec URL such as s3://bucket/prefix, "
                "gs://bucket/prefix or file:///path")
        opts = dict(options or {})
        try:
            self.part_size = int(opts.pop("part_size", PART_SIZE))
            self.upload_concurrency = int(opts.pop("upload_concurrency", UPLOAD_CONCURRENCY))
        except (TypeError, ValueError):
            self.part_size = self.upload_concurrency = 0
        if self.part_size < 5 << 20 or self.upload_concurrency < 1:
            raise InvalidInputError(
                "blobs_options part_size must be at least 5 MiB (5242880, S3's smallest part) "
                "and upload_concurrency at least 1")
        scheme = url.split("://", 1)[0].lower()
        if scheme in _S3:
            opts.setdefault("use_listings_cache", False)
            # botocore reads the endpoint from the environment too; naming it here also keys
            # fsspec's instance cache on it, so a changed endpoint never reuses an old client
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            if endpoint and "endpoint_url" not in opts and "endpoint_url" not in opts.get("client_kwargs", {}):
                opts["endpoint_url"] = endpoint
        try:
            self.fs, base = fsspec.core.url_to_fs(url, **opts)
        except ImportError as exc:
            extra = "pip install 'notebook-artifacts[s3]'" if scheme in _S3 else f"install the fsspec package for {scheme}://"
            raise InvalidInputError(f"blobs={url!r} needs a package: {extra} ({exc})") from None
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"invalid blobs URL or blobs_options for {url!r}: {exc}") from None
        proto = self.fs.protocol
        self.protocol = (proto[0] if isinstance(proto, (tuple, list)) else proto).lower()
        self.url = url
        self.base = base.rstrip("/")
        self._atomic = self.protocol in _ATOMIC
        super().__init__(Path(root) / "blobs" / "tmp")
        self._check_reachable()

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.url!r})"

    def _check_reachable(self) -> None:
        if self.protocol in _S3:
            bucket = self.base.split("/", 1)[0]
            try:
                found = self.fs.exists(bucket)
            except Exception as exc:  # noqa: BLE001 - credentials, endpoint, network
                raise InvalidInputError(
                    f"cannot reach blobs={self.url!r}: {exc}; check AWS_ENDPOINT_URL, "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or blobs_options)") from None
            if not found:
                raise NotFoundError(
                    f"bucket {bucket!r} of blobs={self.url!r} does not exist: create it first "
                    f"(e.g. `aws s3 mb s3://{bucket}`)")
        elif not self._atomic:
            self.fs.makedirs(f"{self.base}/sha256", exist_ok=True)

    # -- keys ------------------------------------------------------------------------------
    def key(self, sha256: str) -> str:
        """The object key of the blob with this digest (whether or not it exists)."""
        check_digest(sha256)
        return f"{self.base}/sha256/{sha256[:2]}/{sha256}"

    def location(self, sha256: str) -> str:
        return self.fs.unstrip_protocol(self.key(sha256))

    # -- reading ---------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        return self.size(sha256) is not None

    def size(self, sha256: str) -> int | None:
        try:
            info = self.fs.info(self.key(sha256))
        except FileNotFoundError:
            return None
        return int(info["size"]) if info.get("type", "file") == "file" else None

    def _open_raw(self, sha256: str) -> Any:
        try:
            if self.protocol in _S3:
                return _S3Stream(self.fs, self.key(sha256))
            return self.fs.open(self.key(sha256), "rb", block_size=READ_BLOCK,
                                cache_type="readahead")
        except FileNotFoundError:
            raise IntegrityError(
                f"blob {sha256[:12]}... is missing from {self.url}; run `notebook-artifacts fsck`"
            ) from None

    def open(self, sha256: str) -> IO[bytes]:
        """A seekable binary read stream that checks the content against its digest (as the
        local backend: IntegrityError when missing, or at the end when damaged)."""
        f = self._open_raw(sha256)
        return io.BufferedReader(_VerifiedReader(f, sha256, int(f.size)), CHUNK_SIZE)

    def verify(self, sha256: str) -> bool:
        try:
            f = self._open_raw(sha256)
        except IntegrityError:
            return False
        with f:
            return hash_stream(f) == sha256

    def iter_blobs(self) -> Iterator[BlobEntry]:
        """Every key under ``<prefix>/sha256``, including misplaced names."""
        top = f"{self.base}/sha256"
        try:
            keys = sorted(self.fs.find(top))
        except FileNotFoundError:
            return
        for k in keys:
            parts = k[len(top):].strip("/").split("/")
            name = parts[-1]
            placed = (len(parts) == 2 and len(name) == 64 and set(name) <= _HEX
                      and parts[0] == name[:2])
            yield BlobEntry(name, self.fs.unstrip_protocol(k), name if placed else None)

    def place(self, entry: BlobEntry) -> bool:
        name = entry.name
        if len(name) != 64 or not set(name) <= _HEX or self.exists(name):
            return False
        self.fs.mv(self.fs._strip_protocol(entry.location), self.key(name))
        return True

    def presigned_url(self, sha256: str, expires_in: int, *, filename: str | None = None,
                      mime_type: str | None = None) -> str | None:
        """The object store's own signed GET URL (None where the filesystem cannot sign)."""
        key = self.key(sha256)
        kwargs: dict[str, Any] = {}
        if self.protocol in _S3:
            if filename:
                from urllib.parse import quote

                ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_"
                                     for c in filename)
                kwargs["ResponseContentDisposition"] = (
                    f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}")
            if mime_type:
                kwargs["ResponseContentType"] = mime_type
        try:
            return self.fs.sign(key, expiration=int(expires_in), **kwargs)
        except NotImplementedError:
            return None

    # -- leftovers -------------------------------------------------------------------------
    def stale_uploads(self, grace: float) -> list[StaleUpload]:
        """Unfinished uploads older than ``grace`` seconds: S3 multipart uploads under the
        prefix, and ``<prefix>/tmp`` keys on filesystems without atomic writes."""
        now = time.time()
        out: list[StaleUpload] = []
        if self.protocol in _S3:
            bucket, _, prefix = self.base.partition("/")
            # only uploads to digest keys: a shared bucket's other uploads are not ours
            kw: dict[str, Any] = {"Bucket": bucket,
                                  "Prefix": f"{prefix}/sha256/" if prefix else "sha256/"}
            while True:
                page = self.fs.call_s3("list_multipart_uploads", **kw)
                for u in page.get("Uploads", []) or []:
                    started = u.get("Initiated")
                    if started is not None and now - started.timestamp() < grace:
                        continue
                    out.append(StaleUpload(f"{bucket}/{u['Key']}", u["UploadId"],
                                           f"s3://{bucket}/{u['Key']}?uploadId={u['UploadId']}"))
                if not page.get("IsTruncated"):
                    break
                kw.update(KeyMarker=page.get("NextKeyMarker"),
                          UploadIdMarker=page.get("NextUploadIdMarker"))
        elif not self._atomic:
            try:
                keys = self.fs.find(f"{self.base}/tmp")
            except FileNotFoundError:
                keys = []
            for k in keys:
                try:
                    age = now - self.fs.modified(k).timestamp()
                except (FileNotFoundError, NotImplementedError):
                    continue
                if age >= grace:
                    out.append(StaleUpload(k, "", self.fs.unstrip_protocol(k)))
        return out

    def drop_upload(self, upload: StaleUpload) -> None:
        if upload.upload_id:
            bucket, _, key = upload.key.partition("/")
            try:
                self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key,
                                UploadId=upload.upload_id)
            except FileNotFoundError:
                pass  # finished or aborted meanwhile
        else:
            try:
                self.fs.rm_file(upload.key)
            except FileNotFoundError:
                pass

    # -- writing ---------------------------------------------------------------------------
    def _upload(self, staged: StagedBlob) -> None:
        final = self.key(staged.sha256)
        if self.protocol in _S3:
            self.fs.put_file(os.fspath(staged.tmp_path), final, chunksize=self.part_size,
                             max_concurrency=self.upload_concurrency)
        elif self._atomic:
            self.fs.put_file(os.fspath(staged.tmp_path), final)
        else:
            part = f"{self.base}/tmp/{secrets.token_hex(8)}.part"
            self.fs.makedirs(f"{self.base}/tmp", exist_ok=True)
            self.fs.makedirs(self.fs._parent(final), exist_ok=True)
            try:
                self.fs.put_file(os.fspath(staged.tmp_path), part)
                self.fs.mv(part, final)
            except BaseException:
                try:
                    self.fs.rm_file(part)
                except (FileNotFoundError, OSError):
                    pass
                raise
        self.fs.invalidate_cache(final)

    def prepare(self, staged: StagedBlob) -> None:
        """Upload the staged content to its digest key (a large one only when identical
        content is not there yet)."""
        if staged.prepared:
            return
        # a HEAD first pays off only when it can save a large transfer; a small object is
        # simply written again (same key, same bytes: still stored once)
        if staged.size >= self.part_size and self.exists(staged.sha256):
            staged.existed = True
        else:
            self._upload(staged)
            staged.existed = False
        staged.prepared = True

    def commit(self, staged: StagedBlob) -> bool:
        """Make sure the blob is in place (uploading it if :meth:`prepare` was not called or
        ``gc`` removed it since) and drop the spool file; True if it was uploaded."""
        try:
            if not staged.prepared:
                self.prepare(staged)
            elif not self.exists(staged.sha256):
                self._upload(staged)
                staged.existed = False
            staged.tmp_path.unlink(missing_ok=True)
            return not staged.existed
        finally:
            staged.release()

    def flush(self, staged: list[StagedBlob]) -> None:
        """Nothing to do: an object is durable once its upload returns."""

    def remove(self, sha256: str) -> int:
        """Delete a blob; returns the bytes freed (0 if it was not there)."""
        size = self.size(sha256)
        if size is None:
            return 0
        try:
            self.fs.rm_file(self.key(sha256))
        except FileNotFoundError:
            return 0
        self.fs.invalidate_cache(self.key(sha256))
        return size


class _S3Stream(io.RawIOBase):
    """A seekable read stream of one S3 object: a single streamed GET, sent again (with
    ``Range: bytes=<pos>-``) only after a seek elsewhere."""

    def __init__(self, fs: Any, path: str):
        self._fs = fs
        self._bucket, self._key, _ = fs.split_path(path)
        self.name = path
        self._pos = 0
        # the whole-object GET starts at once: it tells the size and that the object exists
        # (FileNotFoundError when not), and a read from the start needs no other request
        resp = fs.call_s3("get_object", Bucket=self._bucket, Key=self._key)
        self.size = int(resp["ContentLength"])
        self._body: Any = resp["Body"]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        pos = base + offset
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        if pos != self._pos:
            self._drop()
            self._pos = pos
        return pos

    def readinto(self, b: Any) -> int:
        if self._pos >= self.size or len(b) == 0:
            return 0
        if self._body is None:
            resp = self._fs.call_s3("get_object", Bucket=self._bucket, Key=self._key,
                                    Range=f"bytes={self._pos}-")
            self._body = resp["Body"]
        from fsspec.asyn import sync

        n = sync(self._fs.loop, self._body.readinto, memoryview(b).cast("B"))
        self._pos += n
        return n

    def _drop(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop()
        super().close()
