"""Several processes putting the same name into one root lose nothing."""

from __future__ import annotations

import subprocess
import sys

from notebook_artifacts import ArtifactStore

WORKER = """
import sys
from notebook_artifacts import ArtifactStore
root, who, n, catalog = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] or None
s = ArtifactStore(root, index=False, catalog=catalog)
sys.stdin.readline()  # start together
for i in range(n):
    s.put(f"{who}-{i}", "shared.txt", session_id="race", tags=[who])
    s.put(f"{who}-{i}".encode(), f"own-{who}.bin")
s.close()
"""


def test_concurrent_puts_keep_versions_distinct_and_contiguous(tmp_path, catalog):
    """On the embedded catalog and on PostgreSQL (the blobs stay in the shared root here)."""
    root = tmp_path / "shared"
    ArtifactStore(root, index=False, catalog=catalog).close()
    procs, per = 4, 25
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(root), f"w{k}", str(per),
                                 catalog or ""],
                                stdin=subprocess.PIPE, text=True) for k in range(procs)]
    for w in workers:
        w.stdin.write("go\n")
        w.stdin.flush()
    for w in workers:
        assert w.wait(120) == 0
    with ArtifactStore(root, index=False, catalog=catalog) as s:
        vs = s.versions("shared.txt", session_id="race")
        assert [v.version for v in vs] == list(range(1, procs * per + 1))
        assert len({v.artifact_id for v in vs}) == procs * per
        assert sum(v.is_latest for v in vs) == 1 and vs[-1].is_latest
        assert all(v.replaced_by_version == v.version + 1 for v in vs[:-1])
        bodies = sorted(s.read_text(v.artifact_id) for v in vs)
        assert bodies == sorted(f"w{k}-{i}" for k in range(procs) for i in range(per))
        for k in range(procs):
            own = s.versions(f"own-w{k}.bin")
            assert [v.version for v in own] == list(range(1, per + 1))
        created = s.events(types=["created", "version_created"], limit=100)
        total = len(created.events)
        cursor = created.next_cursor
        while created.has_more:
            created = s.events(after=cursor, types=["created", "version_created"], limit=100)
            total += len(created.events)
            cursor = created.next_cursor
        assert total == procs * per * 2
        manifest = s.manifest("race")
        assert len(manifest["attachments"]) == procs * per
        assert s.fsck().ok
