"""A real S3 API on loopback for tests: moto's server, plus a proxy that injects faults.

``moto.server.ThreadedMotoServer`` speaks the S3 REST protocol over HTTP on
127.0.0.1, so pyarrow's S3 client (the AWS C++ SDK) is exercised for real:
multipart uploads, listings, copies. ``FaultProxy`` sits between the client and
moto and can fail or stall chosen requests (one part of a multipart upload, or
every request, as in an outage), which is how "a failure between parts" and
"killed mid-upload" are produced without mocking pyarrow.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

#: Fake credentials: moto accepts any; the secret is recognisable in log checks.
ACCESS_KEY = "AKIATESTONLY0000000"
SECRET_KEY = "s3cr3t-never-in-a-log-line"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """moto in server mode on a fixed loopback port, restartable (outage tests)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._running = False
        self._started_once = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not self._running:
            self._server.start()
            if not self._started_once:
                # moto keeps one store per process, shared by every server in it: a
                # new server starts empty, or a bucket of an earlier test module (same
                # xdist worker) would still hold that module's objects.
                request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
                urllib.request.urlopen(request, timeout=10).close()
                self._started_once = True
            self._running = True

    def stop(self) -> None:
        if self._running:
            self._server.stop()
            self._running = False

    def client(self):  # type: ignore[no-untyped-def]
        """A boto3 client: an independent reader of what the store holds."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object a listing shows (what a reader of the dataset would see)."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def multipart_uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads begun and never completed (invisible to listings)."""
        answer = self.client().list_multipart_uploads(Bucket=bucket)
        return [u["Key"] for u in answer.get("Uploads", [])]


@pytest.fixture(scope="module")
def s3_env() -> Iterator[None]:
    """Credentials in the environment, where the collector reads them (and nowhere else)."""
    keys = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    keys |= {"AWS_EC2_METADATA_DISABLED": "true"}  # no 1 s metadata probe per client
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def s3(s3_env: None) -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    yield server
    server.stop()


Rule = Callable[[str, str], str | None]  # (method, path?query) -> None, "fail" or "hang"


_HOP = {"transfer-encoding", "expect", "x-amz-trailer", "x-amz-decoded-content-length"}


def _aws_unchunk(body: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (``size;ext\r\ndata\r\n`` ... ``0``, trailers)."""
    out, pos = bytearray(), 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += body[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


class FaultProxy:
    """HTTP proxy to ``upstream`` whose ``rule`` may fail (HTTP 500) or hang a request."""

    def __init__(self, upstream_port: int) -> None:
        self.rule: Rule = lambda _method, _path: None
        self.seen: list[tuple[str, str]] = []
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        out += self.rfile.read(size)
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return bytes(out)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()
                proxy.seen.append((self.command, self.path))
                action = proxy.rule(self.command, self.path)
                if action == "hang":
                    proxy.release.wait(30)
                    self.close_connection = True
                    return
                if action == "fail":
                    self.send_response(500)
                    error = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                if headers.get("content-encoding") == "aws-chunked":
                    body = _aws_unchunk(body)  # moto expects it unframed from a proxy
                    del headers["content-encoding"]
                    headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
                headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                finally:
                    conn.close()
                self.send_response(answer.status)
                length = answer.getheader("Content-Length") if self.command == "HEAD" else None
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        with contextlib.suppress(Exception):
            self._server.shutdown()
        self._server.server_close()
