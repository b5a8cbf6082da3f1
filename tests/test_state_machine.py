"""A hypothesis state machine drives the public store API against a small reference model.

Operations: put (bytes, path or stream; tags, metadata, TTL, pinned), update (tags, metadata,
description, TTL, pin), delete one version or a whole lineage, advance a fake clock (TTL),
gc, and reopening the store. After every step the model and the store must agree on every
listing (with and without expired versions), every version chain (numbers, ``is_latest``,
``replaced_by_version``, ``root_artifact_id``), every byte, the blobs on disk (none leaked,
none missing) and the event sequence.

Bounded for CI by ``NA_SM_EXAMPLES`` / ``NA_SM_STEPS``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from notebook_artifacts import ArtifactStore, NotFoundError
from reliability_fixtures import all_events

NAMES = ["a.txt", "dir/b.md", "c.bin"]
SESSIONS = [None, "s1"]
NAMESPACES = ["default", "team/x"]
T0 = 1_800_000_000.0

#: figures printed at the end (steps run, versions checked)
FIGURES: Counter = Counter()


class FakeClock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class MVersion:
    artifact_id: str
    version: int
    data: bytes
    tags: list[str]
    metadata: dict
    description: str | None
    ttl_seconds: int | None
    expires_ts: float | None
    pinned: bool
    expired: bool = False  # swept (the store has marked it expired)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class MLineage:
    root_artifact_id: str
    last_version: int
    versions: dict[int, MVersion] = field(default_factory=dict)

    def live(self) -> list[MVersion]:
        return [v for _, v in sorted(self.versions.items()) if not v.expired]


contents = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"shared content", b"shared content 2"]),  # dedup across names
)
tag_lists = st.lists(st.sampled_from(["red", "green", "blue", "x y", "ü"]), max_size=3, unique=True)
metadatas = st.one_of(st.none(), st.dictionaries(st.sampled_from(["k", "run", "é"]),
                                                 st.one_of(st.integers(-5, 5), st.text(max_size=5),
                                                           st.lists(st.booleans(), max_size=2)),
                                                 max_size=2))
ttls = st.one_of(st.none(), st.none(), st.integers(1, 400), st.sampled_from(["2m", "1h", "90"]))
keys = st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(SESSIONS), st.sampled_from(NAMES))


def ttl_seconds(ttl) -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, int):
        return ttl
    return {"2m": 120, "1h": 3600, "90": 90}[ttl]


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="na-sm-"))
        self.root = self.dir / "store"
        self.clock = FakeClock()
        self.store = ArtifactStore(self.root, clock=self.clock, index=False)
        self.lineages: dict[tuple, MLineage] = {}
        #: expected events other than "expired", in order: (type, artifact_id, version)
        self.expected_events: list[tuple[str, str, int]] = []
        #: artifact ids expected to have exactly one "expired" event (swept versions)
        self.expired_ids: set[str] = set()
        self.tmp_counter = itertools.count()

    def teardown(self):
        close = getattr(self.store, "close", None)
        if close:
            close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- model helpers -------------------------------------------------------------------
    def _sweep_model(self) -> None:
        """Mark versions whose TTL has passed (the store sweeps before it answers)."""
        now = self.clock()
        for lin in self.lineages.values():
            for v in lin.versions.values():
                if (not v.expired and not v.pinned and v.expires_ts is not None
                        and v.expires_ts <= now):
                    v.expired = True
                    self.expired_ids.add(v.artifact_id)
                    FIGURES["expired"] += 1

    def _scope(self, key):
        ns, sid, name = key
        return dict(namespace=ns, session_id=sid)

    # -- rules ---------------------------------------------------------------------------
    @rule(key=keys, data=contents, how=st.sampled_from(["bytes", "path", "stream"]),
          tags=tag_lists, metadata=metadatas, ttl=ttls, pinned=st.booleans())
    def put(self, key, data, how, tags, metadata, ttl, pinned):
        ns, sid, name = key
        self._sweep_model()
        if how == "bytes":
            src = data
        elif how == "path":
            src = self.dir / f"src-{next(self.tmp_counter)}"
            src.write_bytes(data)
        else:
            src = io.BytesIO(data)
        a = self.store.put(src, name, namespace=ns, session_id=sid, tags=tags, metadata=metadata,
                           ttl=ttl, pinned=pinned, index=False)
        lin = self.lineages.get(key)
        created = lin is None
        if created:
            lin = MLineage(root_artifact_id=a.artifact_id, last_version=0)
            self.lineages[key] = lin
        lin.last_version += 1
        secs = ttl_seconds(ttl)
        mv = MVersion(a.artifact_id, lin.last_version, data, list(tags), metadata or {}, None,
                      secs, None if secs is None else self.clock() + secs, pinned)
        lin.versions[mv.version] = mv
        assert a.version == mv.version, (a.version, mv.version)
        assert a.root_artifact_id == lin.root_artifact_id
        assert a.sha256 == mv.sha256 and a.size_bytes == len(data)
        assert a.is_latest and a.replaced_by_version is None
        assert a.ttl_seconds == secs and a.is_pinned == pinned
        self.expected_events.append(("created" if created else "version_created", a.artifact_id,
                                     mv.version))
        FIGURES["puts"] += 1

    @rule(key=keys, data=contents, ttl=ttls)
    def put_plain(self, key, data, ttl):
        """A second, simpler put rule so puts are drawn as often as the other steps."""
        self.put(key, data, "bytes", [], None, ttl, False)

    @precondition(lambda self: any(l.live() for l in self.lineages.values()))
    @rule(data=st.data(), tags=st.one_of(st.none(), tag_lists), metadata=metadatas,
          description=st.one_of(st.none(), st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20)),
          ttl=st.one_of(st.just(...), st.none(), st.integers(1, 400)),
          pinned=st.one_of(st.none(), st.booleans()))
    def update(self, data, tags, metadata, description, ttl, pinned):
        self._sweep_model()
        live = [(k, l) for k, l in self.lineages.items() if l.live()]
        if not live:
            return
        key, lin = data.draw(st.sampled_from(sorted(live, key=lambda kl: str(kl[0]))))
        target = lin.live()[-1]
        kwargs = {}
        if tags is not None:
            kwargs["tags"] = tags
        if metadata is not None:
            kwargs["metadata"] = metadata
        if description is not None:
            kwargs["description"] = description
        if ttl is not ...:
            kwargs["ttl"] = ttl
        if pinned is not None:
            kwargs["pinned"] = pinned
        a = self.store.update(key[2], **self._scope(key), **kwargs)
        assert a.artifact_id == target.artifact_id
        changed = False
        if tags is not None and list(tags) != target.tags:
            target.tags, changed = list(tags), True
        if metadata is not None and metadata != target.metadata:
            target.metadata, changed = metadata, True
        if description is not None and description != target.description:
            target.description, changed = description, True
        if ttl is not ... and (ttl is not None or target.ttl_seconds is not None):
            # a TTL counts from now, so setting one always changes expires_at
            target.ttl_seconds = ttl
            target.expires_ts = None if ttl is None else self.clock() + ttl
            changed = True
        if pinned is not None and pinned != target.pinned:
            target.pinned, changed = pinned, True
        if changed:  # one "updated" event when anything changed, none for a no-op
            self.expected_events.append(("updated", target.artifact_id, target.version))
        FIGURES["updates"] += 1

    @precondition(lambda self: bool(self.lineages))
    @rule(data=st.data(), one=st.booleans())
    def delete(self, data, one):
        self._sweep_model()
        key = data.draw(st.sampled_from(sorted(self.lineages, key=str)))
        lin = self.lineages[key]
        if one:
            v = data.draw(st.sampled_from(sorted(lin.versions)))
            gone = [lin.versions[v]]
            self.store.delete(key[2], version=v, **self._scope(key))
            del lin.versions[v]
        else:
            gone = [lin.versions[v] for v in sorted(lin.versions)]
            self.store.delete(key[2], **self._scope(key))
            lin.versions.clear()
        for g in gone:
            self.expected_events.append(("deleted", g.artifact_id, g.version))
        if not lin.versions:
            del self.lineages[key]
        FIGURES["deletes"] += 1

    @rule(key=keys)
    def delete_missing_is_not_found(self, key):
        if key in self.lineages:
            return
        with pytest.raises(NotFoundError):
            self.store.delete(key[2], **self._scope(key))

    @rule(seconds=st.sampled_from([0.5, 1, 30, 59.5, 60, 119, 200, 3600]))
    def advance_clock(self, seconds):
        self.clock.t += seconds

    @rule()
    def gc(self):
        self._sweep_model()
        self.store.gc()
        for key, lin in list(self.lineages.items()):
            for v in [v for v in lin.versions.values() if v.expired]:
                del lin.versions[v.version]
            if not lin.versions:
                del self.lineages[key]
        FIGURES["gcs"] += 1

    @rule()
    def reopen(self):
        close = getattr(self.store, "close", None)
        if close:
            close()
        self.store = ArtifactStore(self.root, clock=self.clock, index=False)
        FIGURES["reopens"] += 1

    # -- checks --------------------------------------------------------------------------
    @invariant()
    def listings_agree(self):
        self._sweep_model()
        for ns in NAMESPACES:
            for include_expired in (False, True):
                page = self.store.list(namespace=ns, include_expired=include_expired, limit=100)
                got = sorted((a.session_id or "", a.name, a.version, a.artifact_id, a.is_expired)
                             for a in page.artifacts)
                want = []
                for (kns, sid, name), lin in self.lineages.items():
                    if kns != ns:
                        continue
                    live = lin.live()
                    if live:
                        want.append((sid or "", name, live[-1].version, live[-1].artifact_id, False))
                    if include_expired:
                        want += [(sid or "", name, v.version, v.artifact_id, True)
                                 for v in lin.versions.values() if v.expired]
                assert got == sorted(want), f"list({ns=}, {include_expired=})"
                assert page.total == len(want) and not page.has_more

    @invariant()
    def versions_and_bytes_agree(self):
        self._sweep_model()
        for key, lin in self.lineages.items():
            ns, sid, name = key
            live = lin.live()
            if live:
                latest = self.store.get(name, **self._scope(key))
                assert latest.artifact_id == live[-1].artifact_id
                chain = self.store.versions(name, **self._scope(key))
                assert [a.version for a in chain] == [v.version for v in live]
                for i, (a, mv) in enumerate(zip(chain, live)):
                    assert a.artifact_id == mv.artifact_id
                    assert a.root_artifact_id == lin.root_artifact_id
                    assert a.is_latest == (i == len(live) - 1), (a.version, a.is_latest)
                    want_rb = None if i == len(live) - 1 else live[i + 1].version
                    assert a.replaced_by_version == want_rb, (a.version, a.replaced_by_version, want_rb)
                    assert a.tags == mv.tags and a.metadata == mv.metadata
                    assert a.description == mv.description
                    assert a.ttl_seconds == mv.ttl_seconds and a.is_pinned == mv.pinned
                    assert not a.is_expired
                    assert a.sha256 == mv.sha256 and a.size_bytes == len(mv.data)
                    assert self.store.read_bytes(a.artifact_id) == mv.data
                    assert self.store.get(name, version=mv.version, **self._scope(key)).artifact_id == mv.artifact_id
                    FIGURES["versions_checked"] += 1
            else:
                with pytest.raises(NotFoundError):
                    self.store.get(name, **self._scope(key))
            for mv in lin.versions.values():
                if mv.expired:
                    a = self.store.get(mv.artifact_id)
                    assert a.is_expired and not a.is_latest

    @invariant()
    def blobs_on_disk_are_exactly_the_referenced_ones(self):
        want = {v.sha256 for lin in self.lineages.values() for v in lin.versions.values()}
        objects = self.root / "blobs" / "sha256"
        have = {p.name for p in objects.rglob("*") if p.is_file()} if objects.exists() else set()
        assert have == want, f"leaked {sorted(have - want)[:3]} missing {sorted(want - have)[:3]}"
        tmp = self.root / "blobs" / "tmp"
        assert not (tmp.exists() and any(tmp.iterdir())), "temp files left after a put"

    @invariant()
    def events_agree(self):
        self._sweep_model()
        self.store.list(limit=1)  # any read sweeps due TTLs (and emits their events)
        events, gap = all_events(self.store)
        assert not gap
        cursors = [e.cursor for e in events]
        assert cursors == list(range(1, len(cursors) + 1)), "event cursors not contiguous from 1"
        other = [(e.type, e.artifact_id, e.version) for e in events if e.type != "expired"]
        assert other == self.expected_events
        expired = Counter(e.artifact_id for e in events if e.type == "expired")
        assert all(n == 1 for n in expired.values()), f"an expiry reported twice: {expired}"
        assert set(expired) == self.expired_ids


StoreMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("NA_SM_EXAMPLES", "150")),
    stateful_step_count=int(os.environ.get("NA_SM_STEPS", "30")),
    deadline=None,
    report_multiple_bugs=False,
    # shrinking a stateful failure here takes minutes; opt in with NA_SM_SHRINK=1
    phases=[p for p in Phase if os.environ.get("NA_SM_SHRINK") == "1" or p is not Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestStoreStateMachine = StoreMachine.TestCase


@pytest.fixture(scope="module", autouse=True)
def _report_figures():
    """Prints what the state machine covered once the module is done."""
    yield
    print(f"\nstate machine figures: {dict(FIGURES)}")
