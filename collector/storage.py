"""Where the dataset and the raw capture live: a local directory or object storage.

A location is a URI: a plain path or ``file://`` (the local disk), ``s3://bucket/prefix``
(AWS S3 or any S3-compatible store through ``endpoint_url``) or ``gs://bucket/prefix``
(where this pyarrow has GCS support). It resolves to a pyarrow filesystem, so readers
(pyarrow datasets, compaction) and writers share one code path for every store.

Why the pieces are shaped this way:

* **Credentials only from the environment** (``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, instance roles; for GCS the
  Google default credentials). A URI with ``user:secret@`` or a query string is
  refused by the config check, and :func:`redact` strips both from anything that
  is logged or shown, so a secret can never reach a log line or an error message.
* **Atomic publication.** :func:`upload` writes an object under its final key in
  one ``PutObject`` or multipart upload: S3 and GCS make an object visible only
  once the upload completes, so a reader listing the dataset sees the whole file
  or nothing. Nothing is ever uploaded under a temporary key that readers list.
  The source is memory-mapped and handed over in one write, so a failure can only
  come from the store (the upload is then never completed) and not from a half
  read of the local file; the object's size is checked afterwards all the same.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

__all__ = ["REMOTE_SCHEMES", "Location", "is_remote", "redact", "resolve", "upload"]

#: URI schemes that mean object storage (everything else is the local disk).
REMOTE_SCHEMES = ("s3", "gs", "gcs")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: Connect timeout for object stores, seconds: an unreachable store must fail fast
#: (the spool retries with backoff) instead of hanging the uploader for minutes.
CONNECT_TIMEOUT_S = 5.0


def scheme(uri: str) -> str:
    """The URI's scheme in lower case; ``""`` for a plain path."""
    match = _SCHEME.match(uri)
    return match[1].lower() if match else ""


def is_remote(uri: str | Path) -> bool:
    """Whether ``uri`` names object storage (``s3://``, ``gs://``) rather than a local path."""
    return isinstance(uri, str) and scheme(uri) in REMOTE_SCHEMES


def redact(uri: str) -> str:
    """``uri`` without user info or query string: safe to log whatever it held."""
    if not _SCHEME.match(uri):
        return uri
    parts = urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a dataset or capture location, or ``None`` when it can."""
    kind = scheme(uri)
    if kind not in ("", "file", *REMOTE_SCHEMES):
        return f"has the unknown scheme {kind!r}; use a path, file://, s3:// or gs://"
    if kind in REMOTE_SCHEMES:
        parts = urlsplit(uri)
        if "@" in parts.netloc:
            return (
                "holds credentials; remove them and set AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY (or GOOGLE_APPLICATION_CREDENTIALS) in the environment"
            )
        if parts.query or parts.fragment:
            return "has a query string; use the endpoint_url and region keys instead"
        if not parts.netloc:
            return "names no bucket; use e.g. 's3://bucket/prefix'"
    return None


@dataclass(frozen=True)
class Location:
    """A directory on some filesystem: ``fs`` plus the path ``fs`` understands.

    ``uri`` is the redacted URI, for messages; ``path`` has no trailing slash.
    """

    fs: pafs.FileSystem
    path: str
    uri: str

    @property
    def remote(self) -> bool:
        return not isinstance(self.fs, pafs.LocalFileSystem)

    def join(self, *parts: str) -> str:
        """The filesystem path of ``parts`` (``/``-separated) below this location."""
        return "/".join([self.path, *(p.strip("/") for p in parts if p)])

    def child(self, *parts: str) -> Location:
        """The location ``parts`` below this one."""
        suffix = "/".join(p.strip("/") for p in parts if p)
        return Location(self.fs, self.join(*parts), f"{self.uri.rstrip('/')}/{suffix}")

    def exists(self, *parts: str) -> bool:
        return self.fs.get_file_info(self.join(*parts)).type != pafs.FileType.NotFound

    def list(self, *parts: str, recursive: bool = False) -> list[pafs.FileInfo]:
        """Entries below ``parts``, sorted by path; empty when the directory does not exist."""
        selector = pafs.FileSelector(self.join(*parts), allow_not_found=True, recursive=recursive)
        return sorted(self.fs.get_file_info(selector), key=lambda info: info.path)


def resolve(
    uri: str | Path,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    attempts: int = 3,
) -> Location:
    """The filesystem and path of ``uri`` (see the module docstring for the schemes).

    ``endpoint_url`` (``http://host:port`` or ``https://...``) points ``s3://`` at an
    S3-compatible store (MinIO, Ceph, R2...) or ``gs://`` at an emulator; ``region``
    defaults to ``AWS_REGION``/``AWS_DEFAULT_REGION``, else ``us-east-1``. Without
    ``endpoint_url``, ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` are honoured (the
    AWS SDKs' own variables). ``attempts``: tries per S3 request (the spool, which
    retries forever itself, uses fewer so that an outage is noticed at once).
    """
    text = str(uri)
    problem = uri_problem(text) if isinstance(uri, str) else None
    if problem is not None:
        raise ValueError(f"{redact(text)} {problem}")
    kind = scheme(text)
    if kind in ("", "file"):
        local = Path(text[len("file://") :] if kind == "file" else text).absolute()
        return Location(pafs.LocalFileSystem(), local.as_posix().rstrip("/") or "/", str(local))
    parts = urlsplit(text)
    path = f"{parts.netloc}{parts.path}".rstrip("/")
    if endpoint_url is None and kind == "s3":
        endpoint_url = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    endpoint = urlsplit(endpoint_url) if endpoint_url else None
    if kind == "s3":
        fs: pafs.FileSystem = pafs.S3FileSystem(
            region=region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1",
            endpoint_override=endpoint.netloc if endpoint else None,
            scheme=endpoint.scheme if endpoint else "https",
            connect_timeout=CONNECT_TIMEOUT_S,
            request_timeout=60.0,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=attempts),
        )
    else:  # GCS: retries are bounded by time, not attempts (default: 15 minutes)
        fs = pafs.GcsFileSystem(
            endpoint_override=endpoint.netloc if endpoint else None,
            scheme=endpoint.scheme if endpoint else None,
            retry_time_limit=dt.timedelta(seconds=5 * attempts),
        )
    return Location(fs, path, redact(text))


def upload(source: Path, target: Location, key: str) -> None:
    """Publish the local file ``source`` as ``key`` below ``target``, whole or not at all.

    Raises ``OSError`` when the store refuses or cannot be reached; nothing is
    visible then. ``target`` is object storage: local files are published by rename.
    """
    destination = target.join(key)
    size = source.stat().st_size
    with pa.memory_map(str(source)) as mapped:
        data = mapped.read_buffer()
        # compression=None: pyarrow would otherwise gzip a ``*.gz`` key a second time.
        stream = target.fs.open_output_stream(destination, compression=None)
        try:
            stream.write(data)
        finally:
            # After a failed write the close fails too and completes nothing: the
            # store keeps only parts of an unfinished multipart upload, never listed.
            stream.close()
    stored = target.fs.get_file_info(destination).size
    if stored != size:  # cannot happen with a well-behaved store; never leave it visible
        target.fs.delete_file(destination)
        raise OSError(f"{target.uri}/{key}: stored {stored} bytes of {size}; removed, will retry")
