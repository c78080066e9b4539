"""The state store contract, run against every backend: a local folder and real S3 (SeaweedFS)."""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.state_store import (
    AccessDeniedError,
    BucketNotFoundError,
    ConflictError,
    EndpointUnreachableError,
    InvalidStateError,
    LocalStateStore,
    S3StateStore,
    StateExistsError,
    StateStore,
    StateStoreConfigError,
    StateStoreError,
    Validator,
    open_store,
)
from tests.fixtures.s3server import S3Server, free_port

Doc = dict[str, Any]


@dataclass(frozen=True)
class Location:
    """A fresh place for one search, and raw access to the stored bytes behind the store's back."""

    uri: str
    read_raw: Callable[[], bytes | None]
    write_raw: Callable[[bytes], None]

    def store(self, validate: Validator | None = None) -> StateStore:
        return open_store(self.uri, validate=validate)


def _local_location(folder: Path) -> Location:
    path = folder / "state.json"

    def read_raw() -> bytes | None:
        return path.read_bytes() if path.exists() else None

    def write_raw(data: bytes) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return Location(str(folder), read_raw, write_raw)


def _s3_location(server: S3Server, prefix: str) -> Location:
    client = server.client()
    key = f"{prefix}/state.json"

    def read_raw() -> bytes | None:
        try:
            body: bytes = client.get_object(Bucket=server.bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
        return body

    def write_raw(data: bytes) -> None:
        client.put_object(Bucket=server.bucket, Key=key, Body=data)

    return Location(f"s3://{server.bucket}/{prefix}", read_raw, write_raw)


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """An empty location on each backend. The S3 one is reached through the standard AWS
    environment variables only (``s3_env``), as a pod would reach it."""
    if request.param == "local":
        return _local_location(tmp_path / "search")
    server: S3Server = request.getfixturevalue("s3_env")
    return _s3_location(server, f"searches/{uuid.uuid4().hex}")


def _doc(**extra: Any) -> Doc:
    return {"schema_version": 1, "history": [], **extra}


def _with_result(result_id: str) -> Callable[[Doc | None], Doc]:
    """An idempotent update: record `result_id` once, whatever was there before."""

    def apply(doc: Doc | None) -> Doc:
        doc = _doc() if doc is None else doc
        if result_id not in doc["history"]:
            doc["history"].append(result_id)
        return doc

    return apply


# ----------------------------------------------------------------------------- basic contract


def test_an_empty_location_holds_no_state(location: Location) -> None:
    store = location.store()
    assert not store.exists()
    assert store.load() is None


def test_created_state_loads_back_unchanged(location: Location) -> None:
    doc = _doc(weights={"gp": 0.25, "synflow": 0.75}, note="ünïcode", nested=[[1, 2.5], None])
    created = location.store().create(doc)
    loaded = location.store().load()
    assert loaded is not None
    assert loaded.doc == doc == created.doc
    assert loaded.version == created.version
    assert location.store().exists()
    assert json.loads(location.read_raw() or b"") == doc


def test_create_refuses_to_overwrite_existing_state(location: Location) -> None:
    location.store().create(_doc(owner="first"))
    before = location.read_raw()
    with pytest.raises(StateExistsError, match="already exists"):
        location.store().create(_doc(owner="second"))
    assert location.read_raw() == before


def test_update_creates_the_state_when_there_is_none(location: Location) -> None:
    assert location.store().update(_with_result("a")) == _doc(history=["a"])
    loaded = location.store().load()
    assert loaded is not None and loaded.doc == _doc(history=["a"])


def test_update_applies_the_function_to_the_stored_state(location: Location) -> None:
    store = location.store()
    first = store.create(_doc(history=["a"]))
    assert store.update(_with_result("b")) == _doc(history=["a", "b"])
    loaded = store.load()
    assert loaded is not None
    assert loaded.doc == _doc(history=["a", "b"])
    assert loaded.version != first.version


def test_an_update_that_changes_nothing_keeps_the_version(location: Location) -> None:
    store = location.store()
    created = store.create(_doc(history=["a"]))
    assert store.update(_with_result("a")) == _doc(history=["a"])
    loaded = store.load()
    assert loaded is not None and loaded.version == created.version


# ----------------------------------------------------------------------------- races


def test_update_retries_on_top_of_a_concurrent_write(location: Location) -> None:
    mine, theirs = location.store(), location.store()
    mine.create(_doc())
    calls: list[Doc | None] = []

    def add_a_while_someone_adds_b(doc: Doc | None) -> Doc:
        calls.append(json.loads(json.dumps(doc)))
        if len(calls) == 1:
            theirs.update(_with_result("b"))  # lands between our read and our write
        return _with_result("a")(doc)

    assert mine.update(add_a_while_someone_adds_b) == _doc(history=["b", "a"])
    assert calls == [_doc(), _doc(history=["b"])]


def test_update_retries_when_the_state_is_created_concurrently(location: Location) -> None:
    mine, theirs = location.store(), location.store()
    calls: list[Doc | None] = []

    def add_a_while_someone_creates(doc: Doc | None) -> Doc:
        calls.append(json.loads(json.dumps(doc)))
        if len(calls) == 1:
            theirs.create(_doc(history=["b"]))
        return _with_result("a")(doc)

    assert mine.update(add_a_while_someone_creates) == _doc(history=["b", "a"])
    assert calls == [None, _doc(history=["b"])]


def test_update_gives_up_with_conflict_error_and_applies_nothing(location: Location) -> None:
    mine, theirs = location.store(), location.store()
    mine.create(_doc())
    calls = 0

    def always_overtaken(doc: Doc | None) -> Doc:
        nonlocal calls
        calls += 1
        theirs.update(_with_result(f"theirs-{calls}"))
        return _with_result("mine")(doc)

    with pytest.raises(ConflictError, match="after 3 attempts"):
        mine.update(always_overtaken, max_attempts=3)
    assert calls == 3
    loaded = mine.load()
    assert loaded is not None
    assert loaded.doc == _doc(history=["theirs-1", "theirs-2", "theirs-3"])


def _add_results(uri: str, writer: int, count: int, start: Any) -> None:
    """Child process: its own store (and S3 client) adding `count` results one update each."""
    try:
        store = open_store(uri)
        start.wait(timeout=30)
        for i in range(count):
            store.update(_with_result(f"w{writer}-r{i}"), max_attempts=100)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        raise SystemExit(1) from None


def test_concurrent_writers_lose_no_result(location: Location) -> None:
    writers, per_writer = 8, 10
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(writers)
    procs = [
        ctx.Process(target=_add_results, args=(location.uri, w, per_writer, start))
        for w in range(writers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
    assert [proc.exitcode for proc in procs] == [0] * writers
    loaded = location.store().load()
    assert loaded is not None
    history = loaded.doc["history"]
    assert len(history) == writers * per_writer
    assert set(history) == {f"w{w}-r{i}" for w in range(writers) for i in range(per_writer)}


# ----------------------------------------------------------------------------- invalid state


NOT_STATE: dict[str, Any] = {
    "not an object": [1, 2, 3],
    "no schema_version": {"history": []},
    "not JSON-serialisable": {"schema_version": 1, "history": {1, 2}},
    "NaN": {"schema_version": 1, "best": float("nan")},
}


@pytest.mark.parametrize("bad", NOT_STATE.values(), ids=NOT_STATE.keys())
def test_invalid_documents_are_refused_and_nothing_is_written(location: Location, bad: Any) -> None:
    store = location.store()
    with pytest.raises(InvalidStateError, match="nothing was written"):
        store.create(bad)
    assert location.read_raw() is None
    store.create(_doc(history=["a"]))
    before = location.read_raw()
    with pytest.raises(InvalidStateError, match="nothing was written"):
        store.update(lambda doc: bad)
    assert location.read_raw() == before


def _reject_empty_history(doc: Doc) -> None:
    if not doc["history"]:
        raise ValueError("history must not be empty")


def test_validator_rejection_is_an_error_that_says_why(location: Location) -> None:
    store = location.store(validate=_reject_empty_history)
    with pytest.raises(InvalidStateError, match="history must not be empty"):
        store.create(_doc())
    assert location.read_raw() is None
    store.create(_doc(history=["a"]))
    before = location.read_raw()
    with pytest.raises(InvalidStateError, match="history must not be empty"):
        store.update(lambda doc: _doc())
    assert location.read_raw() == before


STORED_GARBAGE: dict[str, bytes] = {
    "not JSON": b'{"schema_version": 1, "history": [',
    "not UTF-8": b"\xff\xfe\x00",
    "a JSON array": b"[1, 2]",
    "no schema_version": b'{"history": []}',
    "rejected by the validator": b'{"schema_version": 1, "history": []}',
}


@pytest.mark.parametrize("garbage", STORED_GARBAGE.values(), ids=STORED_GARBAGE.keys())
def test_a_stored_object_that_is_not_state_is_reported_and_kept(
    location: Location, garbage: bytes
) -> None:
    location.write_raw(garbage)
    store = location.store(validate=_reject_empty_history)
    assert store.exists()
    with pytest.raises(InvalidStateError, match="not valid search state") as raised:
        store.load()
    assert location.uri.rstrip("/").split("/")[-1] in str(raised.value)
    with pytest.raises(InvalidStateError, match="restore it from a backup"):
        store.update(_with_result("a"))
    with pytest.raises(StateExistsError):
        store.create(_doc(history=["a"]))
    assert location.read_raw() == garbage


# ----------------------------------------------------------------------------- URIs


def test_open_store_picks_the_backend_from_the_uri(tmp_path: Path) -> None:
    plain = open_store(str(tmp_path / "a"))
    assert isinstance(plain, LocalStateStore) and plain.folder == tmp_path / "a"
    file_uri = open_store((tmp_path / "b").as_uri())
    assert isinstance(file_uri, LocalStateStore) and file_uri.folder == tmp_path / "b"
    s3 = open_store("s3://my-bucket/runs/search-1/")
    assert isinstance(s3, S3StateStore)
    assert (s3.bucket, s3.key, s3.uri) == (
        "my-bucket",
        "runs/search-1/state.json",
        "s3://my-bucket/runs/search-1",
    )
    assert isinstance(open_store("s3://my-bucket"), S3StateStore)


@pytest.mark.parametrize(
    "uri",
    ["", "  ", "gs://bucket/x", "https://example.com/state", "s3:///no-bucket", "file://host/x"],
)
def test_unsupported_uris_are_refused_with_the_supported_forms(uri: str) -> None:
    with pytest.raises(StateStoreConfigError, match=r"s3://|file:///"):
        open_store(uri)


def test_a_file_where_the_folder_should_be_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    store = open_store(str(tmp_path / "taken"))
    with pytest.raises(StateStoreConfigError, match="not a folder"):
        store.load()
    with pytest.raises(StateStoreConfigError, match="not a folder"):
        store.create(_doc())
    assert (tmp_path / "taken").read_text() == "x"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux procfs")
def test_a_folder_that_cannot_be_made_is_a_config_error_not_a_traceback() -> None:
    # procfs refuses new folders (ENOENT from mkdir, as a read-only file system gives EROFS)
    store = open_store("/proc/proxybo-state-test")
    assert store.load() is None
    with pytest.raises(StateStoreConfigError, match="cannot use /proc/proxybo-state-test as a"):
        store.create(_doc())


def test_local_writes_leave_only_the_state_and_its_lock(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "search"))
    store.create(_doc())
    for i in range(3):
        store.update(_with_result(str(i)))
    assert sorted(p.name for p in (tmp_path / "search").iterdir()) == [
        ".state.json.lock",
        "state.json",
    ]


# ----------------------------------------------------------------------------- S3 failures


@pytest.fixture
def s3_search(s3_server: S3Server) -> Iterator[tuple[str, bytes]]:
    """A stored search on the test server, written with good credentials: (uri, raw bytes)."""
    prefix = f"searches/{uuid.uuid4().hex}"
    good = S3StateStore(s3_server.bucket, prefix, client=s3_server.client())
    good.create(_doc(history=["a"]))
    raw = s3_server.client().get_object(Bucket=s3_server.bucket, Key=good.key)["Body"].read()
    yield good.uri, raw
    assert (
        s3_server.client().get_object(Bucket=s3_server.bucket, Key=good.key)["Body"].read() == raw
    )


def _every_operation_raises(store: StateStore, error: type[StateStoreError], match: str) -> None:
    for operation in (
        store.load,
        store.exists,
        lambda: store.create(_doc(history=["x"])),
        lambda: store.update(_with_result("x")),
    ):
        with pytest.raises(error, match=match):
            operation()


def test_wrong_credentials_are_refused_and_change_nothing(
    s3_server: S3Server, s3_search: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_server.apply_env(monkeypatch, AWS_SECRET_ACCESS_KEY="not-the-secret")
    _every_operation_raises(open_store(s3_search[0]), AccessDeniedError, "AWS_SECRET_ACCESS_KEY")


def test_missing_credentials_say_how_to_provide_them(
    s3_server: S3Server, s3_search: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_server.apply_env(monkeypatch)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    _every_operation_raises(open_store(s3_search[0]), AccessDeniedError, "no AWS credentials")


def test_a_missing_bucket_is_named_and_not_created(
    s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    _every_operation_raises(open_store(f"s3://{bucket}/x"), BucketNotFoundError, bucket)
    names = {b["Name"] for b in s3_env.client().list_buckets()["Buckets"]}
    assert s3_env.bucket in names and bucket not in names


def test_an_unreachable_endpoint_fails_fast_and_names_the_setting(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    s3_server.apply_env(monkeypatch, AWS_ENDPOINT_URL=closed, AWS_MAX_ATTEMPTS="1")
    started = time.monotonic()
    _every_operation_raises(
        open_store(f"s3://{s3_server.bucket}/x"), EndpointUnreachableError, "AWS_ENDPOINT_URL"
    )
    assert time.monotonic() - started < 10


def test_the_s3_specific_endpoint_variable_wins(
    s3_server: S3Server, s3_search: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    s3_server.apply_env(
        monkeypatch, AWS_ENDPOINT_URL=closed, AWS_ENDPOINT_URL_S3=s3_server.endpoint_url
    )
    loaded = open_store(s3_search[0]).load()
    assert loaded is not None and loaded.doc == _doc(history=["a"])
