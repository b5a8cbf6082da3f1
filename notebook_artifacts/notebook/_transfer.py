"""Buttons that move files between the browser and the kernel in pieces, over the widget comm.

:class:`ChunkedUpload`: an "Upload" button that sends files to the kernel in pieces.

ipywidgets' ``FileUpload`` sends each file in one websocket message, and Jupyter's server drops
messages over 10 MiB (``websocket_max_message_size``): the socket reconnects and the file is lost
without a word. This widget (an anywidget) reads each file in ``chunk_bytes`` slices and sends
them as binary buffers, a few in flight at a time; the kernel writes them to a spool file outside
the user's project, then hands the finished file to ``on_file``. Files over ``max_bytes`` are
refused on their first message, with a message in the panel.

Protocol (custom messages): browser -> kernel ``begin {id, name, size, type}``, ``chunk {id,
offset}`` + one buffer, ``end {id}``, ``abort {id}``; kernel -> browser ``ack {id, received}``
and ``cancel {id, reason}``.

:class:`ChunkedDownload`: a "Download" button; one click streams a file from the kernel to the
browser, which saves it as a download: no copy on disk, no data URI in the notebook. Browser ->
kernel ``request``, ``ack {id, received}``; kernel -> browser ``begin {id, name, size, type}``,
``chunk {id}`` + one buffer, ``end {id}``, ``error {message}``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

import anywidget
import traitlets

__all__ = ["ChunkedUpload", "ChunkedDownload", "IncomingFile", "OutgoingFile", "CHUNK_BYTES"]

#: Size of one piece: well under the server's 10 MiB message limit.
CHUNK_BYTES = 1024 * 1024

_ESM = r"""
function render({ model, el }) {
  const input = document.createElement("input");
  input.type = "file";
  input.multiple = true;
  input.style.display = "none";
  const button = document.createElement("button");
  button.className = "jupyter-button widget-upload mod-primary na-chunked-upload";
  button.type = "button";
  button.textContent = model.get("description");
  button.title = "Pick files to store; large files are sent in pieces";
  model.on("change:description", () => { button.textContent = model.get("description"); });
  const waiters = new Map();   // id -> {received, cancelled, wake}
  model.on("msg:custom", (msg) => {
    const w = waiters.get(msg.id);
    if (!w) return;
    if (msg.kind === "ack") w.received = msg.received;
    if (msg.kind === "cancel") w.cancelled = true;
    if (w.wake) { const f = w.wake; w.wake = null; f(); }
  });
  function until(w, test) {
    return new Promise((resolve) => {
      const check = () => { if (test() || w.cancelled) resolve(); else w.wake = check; };
      check();
    });
  }
  async function send(file) {
    const id = Math.random().toString(36).slice(2) + Date.now().toString(36);
    const chunk = model.get("chunk_bytes");
    const window = chunk * model.get("window");
    const w = { received: 0, cancelled: false, wake: null };
    waiters.set(id, w);
    model.send({ kind: "begin", id, name: file.name, size: file.size, type: file.type || "" });
    try {
      for (let off = 0; off < file.size && !w.cancelled; off += chunk) {
        await until(w, () => off - w.received < window);
        if (w.cancelled) break;
        const buf = await file.slice(off, off + chunk).arrayBuffer();
        model.send({ kind: "chunk", id, offset: off }, undefined, [buf]);
      }
      if (!w.cancelled) {
        await until(w, () => w.received >= file.size);
        if (!w.cancelled) model.send({ kind: "end", id });
      }
    } catch (err) {
      model.send({ kind: "abort", id, reason: String(err) });
    } finally {
      waiters.delete(id);
    }
  }
  input.addEventListener("change", async () => {
    const files = Array.from(input.files || []);
    input.value = "";
    button.disabled = true;
    try { for (const f of files) await send(f); } finally { button.disabled = false; }
  });
  button.addEventListener("click", () => input.click());
  el.classList.add("na-chunked-upload-root");
  el.append(button, input);
}
export default { render };
"""


@dataclass
class IncomingFile:
    """A file being received: its spool path, declared size and bytes received so far."""

    id: str
    name: str
    size: int
    mime_type: str
    path: Path
    received: int = 0


class ChunkedUpload(anywidget.AnyWidget):
    """An "Upload" button whose files reach the kernel in ``chunk_bytes`` pieces.

    Callbacks (run on the kernel's main thread): ``on_begin(incoming)`` (return a message to
    refuse the file), ``on_progress(incoming)``, ``on_file(incoming)`` (the spool file is
    deleted after it returns) and ``on_error(incoming, message)``.
    """

    _esm = _ESM
    description = traitlets.Unicode("Upload").tag(sync=True)
    chunk_bytes = traitlets.Int(CHUNK_BYTES).tag(sync=True)
    window = traitlets.Int(4).tag(sync=True)

    def __init__(
        self,
        *,
        on_begin: Callable[[IncomingFile], str | None] | None = None,
        on_progress: Callable[[IncomingFile], Any] | None = None,
        on_file: Callable[[IncomingFile], Any] | None = None,
        on_error: Callable[[IncomingFile, str], Any] | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_begin, self.on_progress = on_begin, on_progress
        self.on_file, self.on_error = on_file, on_error
        self.spool_dir = Path(spool_dir) if spool_dir else Path(tempfile.gettempdir())
        self._incoming: dict[str, IncomingFile] = {}
        self.on_msg(self._on_message)

    def _on_message(self, _widget: Any, content: dict[str, Any], buffers: list[Any]) -> None:
        kind, fid = content.get("kind"), str(content.get("id", ""))
        if kind == "begin":
            self._begin(fid, content)
            return
        incoming = self._incoming.get(fid)
        if incoming is None:
            return  # cancelled or unknown: ignore the rest of it
        if kind == "chunk":
            self._chunk(incoming, int(content.get("offset", -1)), buffers)
        elif kind == "end":
            self._finish(incoming)
        elif kind == "abort":
            self._fail(incoming, f"the browser stopped sending: {content.get('reason', '')}")

    def _begin(self, fid: str, content: dict[str, Any]) -> None:
        name = os.path.basename(str(content.get("name") or "")) or "upload.bin"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        fd, spool = tempfile.mkstemp(prefix="na-upload-", suffix=".part", dir=self.spool_dir)
        os.close(fd)
        incoming = IncomingFile(fid, name, int(content.get("size") or 0),
                                str(content.get("type") or ""), Path(spool))
        refusal = self.on_begin(incoming) if self.on_begin else None
        if refusal:
            incoming.path.unlink(missing_ok=True)
            self.send({"kind": "cancel", "id": fid, "reason": refusal})
            return
        self._incoming[fid] = incoming

    def _chunk(self, incoming: IncomingFile, offset: int, buffers: list[Any]) -> None:
        data = bytes(buffers[0]) if buffers else b""
        if offset != incoming.received or incoming.received + len(data) > incoming.size:
            self._fail(incoming, f"piece at byte {offset} out of order (have {incoming.received})")
            return
        try:
            with open(incoming.path, "ab") as out:
                out.write(data)
        except OSError as exc:
            self._fail(incoming, f"cannot write the upload to {incoming.path.parent}: {exc}")
            return
        incoming.received += len(data)
        self.send({"kind": "ack", "id": incoming.id, "received": incoming.received})
        if self.on_progress:
            self.on_progress(incoming)

    def _finish(self, incoming: IncomingFile) -> None:
        self._incoming.pop(incoming.id, None)
        try:
            if incoming.received != incoming.size:
                if self.on_error:
                    self.on_error(incoming, f"received {incoming.received} of {incoming.size} bytes")
                return
            if self.on_file:
                self.on_file(incoming)
        finally:
            incoming.path.unlink(missing_ok=True)

    def _fail(self, incoming: IncomingFile, message: str) -> None:
        self._incoming.pop(incoming.id, None)
        incoming.path.unlink(missing_ok=True)
        self.send({"kind": "cancel", "id": incoming.id, "reason": message})
        if self.on_error:
            self.on_error(incoming, message)

    def close(self) -> None:
        for incoming in list(self._incoming.values()):
            incoming.path.unlink(missing_ok=True)
        self._incoming.clear()
        super().close()


_DOWNLOAD_ESM = r"""
function render({ model, el }) {
  const button = document.createElement("button");
  button.type = "button";
  const style = () => {
    button.className = "jupyter-button widget-button na-chunked-download" +
      (model.get("primary") ? " mod-primary" : "");
    button.textContent = model.get("description");
    button.disabled = model.get("disabled");
  };
  style();
  model.on("change:description", style);
  model.on("change:disabled", style);
  model.on("change:primary", style);
  let job = null;
  model.on("msg:custom", (msg, buffers) => {
    if (msg.kind === "begin") {
      job = { id: msg.id, name: msg.name, type: msg.type, size: msg.size, parts: [], received: 0 };
    } else if (msg.kind === "chunk" && job && msg.id === job.id) {
      const part = buffers[0];
      job.parts.push(part);
      job.received += part.byteLength;
      model.send({ kind: "ack", id: job.id, received: job.received });
    } else if (msg.kind === "end" && job && msg.id === job.id) {
      const blob = new Blob(job.parts, { type: job.type || "application/octet-stream" });
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = job.name;
      a.style.display = "none";
      el.append(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 60000);
      job = null;
    } else if (msg.kind === "error") {
      job = null;
    }
  });
  button.addEventListener("click", () => model.send({ kind: "request" }));
  el.classList.add("na-chunked-download-root");
  el.append(button);
}
export default { render };
"""


@dataclass
class OutgoingFile:
    """What a :class:`ChunkedDownload` sends: a name, MIME type, size and a binary stream."""

    name: str
    mime_type: str
    size: int
    stream: IO[bytes]
    id: str = ""
    sent: int = 0
    acked: int = 0
    cleanup: Callable[[], Any] | None = None


class ChunkedDownload(anywidget.AnyWidget):
    """A button; one click streams ``on_request()``'s file to the browser as a download.

    ``on_request()`` returns an :class:`OutgoingFile` (or raises: the message goes to
    ``on_error``); ``on_progress(outgoing)`` and ``on_done(outgoing)`` report progress.
    """

    _esm = _DOWNLOAD_ESM
    description = traitlets.Unicode("Download").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    primary = traitlets.Bool(True).tag(sync=True)
    chunk_bytes = traitlets.Int(CHUNK_BYTES)
    window = traitlets.Int(4)

    def __init__(
        self,
        on_request: Callable[[], OutgoingFile],
        *,
        on_progress: Callable[[OutgoingFile], Any] | None = None,
        on_done: Callable[[OutgoingFile], Any] | None = None,
        on_error: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_request, self.on_progress = on_request, on_progress
        self.on_done, self.on_error = on_done, on_error
        self._current: OutgoingFile | None = None
        self._count = 0
        self.on_msg(self._on_message)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)  # anywidget: (data, metadata)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        data = {**data, "text/plain": f"{self.description}: a button; run the cell in a live "
                                      "kernel to download"}
        return data, meta

    def click(self) -> None:
        """What a click in the browser does: start sending the requested file."""
        self._on_message(self, {"kind": "request"}, [])

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: list[Any]) -> None:
        kind = content.get("kind")
        if kind == "request":
            self._start()
        elif kind == "ack" and self._current is not None and content.get("id") == self._current.id:
            self._current.acked = int(content.get("received") or 0)
            self._pump()

    def _start(self) -> None:
        self._stop()
        try:
            out = self.on_request()
        except Exception as exc:  # shown by the owner; nothing is sent
            self.send({"kind": "error", "message": str(exc)})
            if self.on_error:
                self.on_error(str(exc))
            return
        self._count += 1
        out.id = f"d{id(self):x}-{self._count}"
        self._current = out
        self.send({"kind": "begin", "id": out.id, "name": out.name, "size": out.size,
                   "type": out.mime_type})
        self._pump()

    def _pump(self) -> None:
        out = self._current
        if out is None:
            return
        try:
            while out.sent - out.acked < self.chunk_bytes * self.window:
                data = out.stream.read(self.chunk_bytes)
                if not data:
                    break
                self.send({"kind": "chunk", "id": out.id}, buffers=[data])
                out.sent += len(data)
        except OSError as exc:
            self._stop()
            self.send({"kind": "error", "message": str(exc)})
            if self.on_error:
                self.on_error(f"cannot read {out.name}: {exc}")
            return
        if self.on_progress:
            self.on_progress(out)
        if out.acked >= out.size and out.sent >= out.size:
            self.send({"kind": "end", "id": out.id})
            self._stop()
            if self.on_done:
                self.on_done(out)

    def _stop(self) -> None:
        out, self._current = self._current, None
        if out is not None:
            out.stream.close()
            if out.cleanup is not None:
                out.cleanup()

    def close(self) -> None:
        self._stop()
        super().close()
