"""Where the search state lives: one JSON document behind a small storage protocol.

The search state is one JSON object with a ``"schema_version"`` key. A `StateStore` keeps it at
one location and offers exactly what the pipeline needs: read it with a version token, create it
once, and update it with a compare-and-swap loop so that concurrent writers (parallel
``update-surrogate`` steps, retried pods) never lose each other's results.

Backends, picked by `open_store` from the URI:

- a local folder (a plain path or ``file://``), the default: the document is ``<folder>/state.json``;
  writes go to a temporary file that is renamed over the old one (atomic), under an exclusive
  ``flock`` on ``<folder>/.state.json.lock`` and a check of the version token, so two processes
  on one machine cannot lose each other's writes;
- S3 (``s3://bucket/prefix``, boto3): the document is ``<prefix>/state.json``; creation sends
  ``If-None-Match: *`` and replacement ``If-Match: <etag>``, so the server refuses a write based
  on a stale read. Endpoint, region and credentials come from boto3's standard configuration
  (``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``,
  ``AWS_MAX_ATTEMPTS``, ``~/.aws/config`` ...), so AWS, MinIO and SeaweedFS all work.
  The server must honour conditional writes: AWS S3 (since 2024), MinIO and SeaweedFS do
  (SeaweedFS 4.48 is what the contract tests run against, racing writers included).

Version tokens are opaque: the ETag for S3 (an MD5 of the bytes on SeaweedFS, MinIO and plain
AWS uploads), a SHA-256 of the bytes for a folder.

Every failure is a `StateStoreError` whose message says what to change, and a failed call
writes nothing.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import random
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client  # pragma: no cover

__all__ = [
    "STATE_FILENAME",
    "AccessDeniedError",
    "BucketNotFoundError",
    "ConflictError",
    "EndpointUnreachableError",
    "InvalidStateError",
    "LocalStateStore",
    "S3StateStore",
    "StateExistsError",
    "StateStore",
    "StateStoreConfigError",
    "StateStoreError",
    "Validator",
    "Versioned",
    "open_store",
    "parse_s3_uri",
]

STATE_FILENAME = "state.json"
SCHEMA_VERSION_KEY = "schema_version"
DEFAULT_MAX_ATTEMPTS = 16

Validator = Callable[[dict[str, Any]], object]
"""Checks a state document; raises (any exception) to reject it. Its return value is ignored,
so ``SearchState.from_json`` can be passed as it is."""


# ----------------------------------------------------------------------------- errors


class StateStoreError(Exception):
    """Base class of every error raised by a state store."""


class StateStoreConfigError(StateStoreError):
    """The URI or the location it names cannot hold a state store."""


class InvalidStateError(StateStoreError):
    """A document (to be written, or found in the store) is not valid search state."""


class StateExistsError(StateStoreError):
    """`StateStore.create` found a state document already there."""


class ConflictError(StateStoreError):
    """`StateStore.update` lost the race to other writers `max_attempts` times in a row."""


class AccessDeniedError(StateStoreError):
    """The storage refused the credentials or the permissions of this identity."""


class BucketNotFoundError(StateStoreError):
    """The S3 bucket named in the URI does not exist at the configured endpoint."""


class EndpointUnreachableError(StateStoreError):
    """The storage endpoint could not be reached (no server, wrong address, timeout)."""


class _LostRace(Exception):
    """A conditional write was refused because the stored version changed (internal)."""


# ----------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class Versioned:
    """A state document and the version token of the bytes it was read from."""

    doc: dict[str, Any]
    version: str


@runtime_checkable
class StateStore(Protocol):
    """One state document at one location, written atomically and conditionally."""

    @property
    def uri(self) -> str:
        """The location, as given to `open_store` (normalised)."""
        ...

    def exists(self) -> bool:
        """Whether a state document is stored at this location."""
        ...

    def load(self) -> Versioned | None:
        """The stored document and its version token, or None if there is none yet.

        Raises `InvalidStateError` if the stored object is not valid state.
        """
        ...

    def create(self, doc: dict[str, Any]) -> Versioned:
        """Store `doc` as the first version; `StateExistsError` if a document is already there."""
        ...

    def update(
        self,
        fn: Callable[[dict[str, Any] | None], dict[str, Any]],
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> dict[str, Any]:
        """Read, apply `fn`, write back only if nobody wrote in between; retry on a lost race.

        `fn` receives a fresh copy of the stored document (None if there is none yet) and
        returns the new document. It may run several times, so it must be idempotent
        (adding a result that is already there changes nothing). Returns the document as
        stored. Raises `ConflictError` after `max_attempts` lost races.
        """
        ...


# ----------------------------------------------------------------------------- shared logic


def _encode(doc: object, uri: str, validate: Validator | None) -> bytes:
    """Validate `doc` and serialise it deterministically (sorted keys, strict JSON)."""
    if not isinstance(doc, dict):
        raise InvalidStateError(
            f"refusing to write to {uri}: the state must be a JSON object (dict), "
            f"got {type(doc).__name__}; nothing was written"
        )
    _check_document(
        doc, f"refusing to write to {uri}: the document", "nothing was written", validate
    )
    try:
        text = json.dumps(doc, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidStateError(
            f"refusing to write to {uri}: the state is not plain JSON ({exc}); convert "
            "values to str/int/float/bool/None/list/dict, with finite floats; nothing was written"
        ) from exc
    return (text + "\n").encode("utf-8")


def _decode(data: bytes, uri: str, validate: Validator | None) -> dict[str, Any]:
    """Parse and validate stored bytes."""
    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidStateError(
            f"the object at {uri} is not valid search state: not JSON ({exc}); "
            "restore it from a backup, or delete it or use a new location to start a new "
            "search; nothing was changed"
        ) from exc
    if not isinstance(doc, dict):
        raise InvalidStateError(
            f"the object at {uri} is not valid search state: it holds a JSON "
            f"{type(doc).__name__}, not an object; restore it from a backup, or delete it or "
            "use a new location; nothing was changed"
        )
    _check_document(
        doc,
        f"the object at {uri}",
        "restore it from a backup, or delete it or use a new location; nothing was changed",
        validate,
    )
    return doc


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _check_document(doc: dict[str, Any], what: str, tail: str, validate: Validator | None) -> None:
    if SCHEMA_VERSION_KEY not in doc:
        raise InvalidStateError(
            f"{what} is not valid search state: it has no {SCHEMA_VERSION_KEY!r} key; {tail}"
        )
    if validate is not None:
        try:
            validate(doc)
        except Exception as exc:
            raise InvalidStateError(
                f"{what} is not valid search state: {type(exc).__name__}: {exc}; {tail}"
            ) from exc


class _ConditionalStore(ABC):
    """The protocol on top of three primitives: read, conditional create, conditional replace."""

    def __init__(self, uri: str, validate: Validator | None) -> None:
        self._uri = uri
        self._validate = validate

    @property
    def uri(self) -> str:
        return self._uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._uri!r})"

    # primitives ---------------------------------------------------------------------------

    @abstractmethod
    def _read(self) -> tuple[bytes, str] | None:
        """The stored bytes and their version token, or None."""

    @abstractmethod
    def _write_new(self, data: bytes) -> str:
        """Store `data` if nothing is stored; raise `_LostRace` otherwise. Returns the version."""

    @abstractmethod
    def _replace(self, data: bytes, version: str) -> str:
        """Store `data` if the stored version is `version`; raise `_LostRace` otherwise."""

    # protocol -----------------------------------------------------------------------------

    def exists(self) -> bool:
        return self._read() is not None

    def load(self) -> Versioned | None:
        found = self._read()
        if found is None:
            return None
        data, version = found
        return Versioned(_decode(data, self._uri, self._validate), version)

    def create(self, doc: dict[str, Any]) -> Versioned:
        data = _encode(doc, self._uri, self._validate)
        try:
            version = self._write_new(data)
        except _LostRace:
            raise StateExistsError(
                f"a state document already exists at {self._uri}; resume it with update(), "
                "or choose a new location for a new search; nothing was written"
            ) from None
        return Versioned(json.loads(data), version)

    def update(
        self,
        fn: Callable[[dict[str, Any] | None], dict[str, Any]],
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> dict[str, Any]:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        for attempt in range(max_attempts):
            current = self.load()
            new_doc = fn(None if current is None else copy.deepcopy(current.doc))
            data = _encode(new_doc, self._uri, self._validate)
            stored: dict[str, Any] = json.loads(data)
            if current is not None and stored == current.doc:
                return stored  # nothing to change: the read is the answer
            try:
                if current is None:
                    self._write_new(data)
                else:
                    self._replace(data, current.version)
            except _LostRace:
                if attempt + 1 < max_attempts:
                    time.sleep(random.uniform(0.0, min(0.5, 0.01 * 2**attempt)))
                continue
            return stored
        raise ConflictError(
            f"gave up updating {self._uri} after {max_attempts} attempts: other writers "
            "changed it every time between read and write. Retry later, raise max_attempts, "
            "or check that no process rewrites the state in a loop; this update was not applied"
        )


# ----------------------------------------------------------------------------- local folder


class LocalStateStore(_ConditionalStore):
    """The state in ``<folder>/state.json``; atomic rename under an exclusive ``flock``.

    The folder is created on the first write. Readers take no lock (a rename is atomic);
    writers hold the lock only to compare the version and rename. Safe across threads and
    processes on one machine; on network file systems it is only as safe as their ``flock``.
    """

    def __init__(
        self, folder: str | os.PathLike[str], *, validate: Validator | None = None
    ) -> None:
        self.folder = Path(folder).expanduser().absolute()
        super().__init__(self.folder.as_uri(), validate)
        self.path = self.folder / STATE_FILENAME
        self._lock_path = self.folder / f".{STATE_FILENAME}.lock"

    def _check_folder(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise StateStoreConfigError(
                f"{self.folder} is a file, not a folder: give a folder path for the state "
                "store (the state goes to <folder>/state.json)"
            )

    @contextlib.contextmanager
    def _os_errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except PermissionError as exc:
            raise AccessDeniedError(
                f"permission denied while {action} {self.path}: give this user read and write "
                f"access to {self.folder} or choose another folder ({exc})"
            ) from exc
        except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
            raise StateStoreConfigError(
                f"cannot use {self.folder} as a state folder while {action} it: {exc}; give a "
                "path to a folder (or to one that can be created)"
            ) from exc
        except OSError as exc:  # a read-only or full file system, a folder that cannot be made
            raise StateStoreConfigError(
                f"cannot use {self.folder} as a state folder while {action} {self.path}: "
                f"{exc.strerror or exc}; give a folder on a writable file system (or one that "
                "can be created there)"
            ) from exc

    def _read(self) -> tuple[bytes, str] | None:
        self._check_folder()
        with self._os_errors("reading"):
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return None
        return data, hashlib.sha256(data).hexdigest()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._check_folder()
        with self._os_errors("locking"):
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _current_version(self) -> str | None:
        found = self._read()
        return None if found is None else found[1]

    def _write_atomically(self, data: bytes) -> str:
        tmp = self.folder / f".{STATE_FILENAME}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        with self._os_errors("writing"):
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return hashlib.sha256(data).hexdigest()

    def _write_new(self, data: bytes) -> str:
        with self._locked():
            if self._current_version() is not None:
                raise _LostRace
            return self._write_atomically(data)

    def _replace(self, data: bytes, version: str) -> str:
        with self._locked():
            if self._current_version() != version:
                raise _LostRace
            return self._write_atomically(data)


# ----------------------------------------------------------------------------- S3


_CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AllAccessDisabled",
        "403",
        "Forbidden",
    }
)
_RACE_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (prefix without slashes at
    the ends; empty for the bucket root)."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise StateStoreConfigError(
            f"{uri!r} is not an S3 URI: write it as s3://<bucket>/<prefix> (the prefix may be empty)"
        )
    if parts.query or parts.fragment:
        raise StateStoreConfigError(
            f"{uri!r} has a query or fragment; write it as s3://<bucket>/<prefix> without '?' or '#'"
        )
    return parts.netloc, parts.path.strip("/")


class S3StateStore(_ConditionalStore):
    """The state in ``s3://<bucket>/<prefix>/state.json``; conditional PUTs on the ETag.

    `client` defaults to ``boto3.session.Session().client("s3")``, i.e. the standard AWS
    configuration: environment variables, shared config and credentials files, instance roles.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        validate: Validator | None = None,
        client: S3Client | None = None,
    ) -> None:
        prefix = prefix.strip("/")
        super().__init__(f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}", validate)
        self.bucket = bucket
        self.key = f"{prefix}/{STATE_FILENAME}" if prefix else STATE_FILENAME
        self._client = client if client is not None else _default_s3_client()

    @property
    def object_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def endpoint_url(self) -> str:
        return str(self._client.meta.endpoint_url)

    @contextlib.contextmanager
    def _s3_errors(self, action: str) -> Iterator[None]:
        """Translate boto3's exceptions into errors that say what to change."""
        import botocore.exceptions as bex

        where = f"{self.object_uri} (endpoint {self.endpoint_url})"
        try:
            yield
        except bex.NoCredentialsError as exc:
            raise AccessDeniedError(
                f"no AWS credentials found while {action} {where}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an IAM role"
            ) from exc
        except (
            bex.EndpointConnectionError,
            bex.ConnectTimeoutError,
            bex.ReadTimeoutError,
            bex.ConnectionClosedError,
        ) as exc:
            raise EndpointUnreachableError(
                f"cannot reach the S3 endpoint while {action} {where}: {exc}. Check "
                "AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 (scheme, host and port), that the "
                "server is running, and the network between here and there"
            ) from exc
        except bex.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _RACE_CODES or status == 412:
                raise _LostRace from exc
            if code == "NoSuchBucket":
                raise BucketNotFoundError(
                    f"bucket {self.bucket!r} does not exist at {self.endpoint_url} (while "
                    f"{action} {self.object_uri}): create the bucket, or fix the bucket name in "
                    "the URI or the endpoint in AWS_ENDPOINT_URL"
                ) from exc
            if code in _CREDENTIAL_CODES or status == 403:
                raise AccessDeniedError(
                    f"S3 refused access while {action} {where}: {code} "
                    f"({error.get('Message', 'forbidden')}). Check AWS_ACCESS_KEY_ID / "
                    "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and that this identity may read "
                    f"and write s3://{self.bucket}/{self.key}"
                ) from exc
            if code == "NotImplemented" or status == 501:
                raise StateStoreError(
                    f"the S3 server at {self.endpoint_url} does not support conditional writes "
                    f"(If-Match / If-None-Match) needed for {where}; use a server that does "
                    "(AWS S3, MinIO, SeaweedFS >= 4) or a local folder"
                ) from exc
            raise StateStoreError(
                f"S3 error while {action} {where}: {code} "
                f"({error.get('Message', '')}, HTTP {status})"
            ) from exc

    def _read(self) -> tuple[bytes, str] | None:
        import botocore.exceptions as bex

        with self._s3_errors("reading"):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self.key)
            except bex.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                    return None
                raise
            data = response["Body"].read()
        return data, str(response["ETag"])

    def _put(self, data: bytes, **condition: str) -> str:
        with self._s3_errors("writing"):
            response = self._client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=data,
                ContentType="application/json",
                **condition,  # type: ignore[arg-type]
            )
        return str(response["ETag"])

    def _write_new(self, data: bytes) -> str:
        return self._put(data, IfNoneMatch="*")

    def _replace(self, data: bytes, version: str) -> str:
        return self._put(data, IfMatch=version)


def _default_s3_client() -> S3Client:
    import boto3
    from botocore.config import Config

    # A session per store: boto3 sessions are not thread-safe, and each writer gets its own.
    # Retries (AWS_MAX_ATTEMPTS / AWS_RETRY_MODE) stay with the standard configuration.
    session = boto3.session.Session()
    return session.client("s3", config=Config(connect_timeout=10, read_timeout=60))


# ----------------------------------------------------------------------------- factory


def open_store(uri: str, *, validate: Validator | None = None) -> StateStore:
    """The state store for `uri`.

    - ``/path/to/folder``, ``relative/folder`` or ``file:///path/to/folder``: a local folder
      (state in ``<folder>/state.json``);
    - ``s3://bucket/prefix``: S3 through boto3's standard configuration (state in
      ``<prefix>/state.json``).

    `validate` checks every document read or written (e.g. ``SearchState.from_json``); it
    raises to reject one. Raises `StateStoreConfigError` for any other URI.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise StateStoreConfigError(
            "the state store URI is empty: give a folder path, file:///folder or s3://bucket/prefix"
        )
    uri = uri.strip()
    scheme = urlsplit(uri).scheme.lower()
    if scheme == "s3":
        bucket, prefix = parse_s3_uri(uri)
        return S3StateStore(bucket, prefix, validate=validate)
    if scheme == "file":
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise StateStoreConfigError(
                f"{uri!r} names a remote host; a file:// URI must be file:///absolute/path"
            )
        return LocalStateStore(unquote(parts.path), validate=validate)
    if "://" in uri or scheme in ("s3a", "s3n", "gs", "gcs", "az", "abfs", "http", "https"):
        raise StateStoreConfigError(
            f"unsupported state store URI {uri!r}: use a folder path, file:///folder or "
            "s3://bucket/prefix (for another S3-compatible service, keep s3:// and set "
            "AWS_ENDPOINT_URL)"
        )
    return LocalStateStore(uri, validate=validate)
