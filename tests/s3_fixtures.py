"""A real S3 wire-protocol server on loopback (moto's standalone server) for the tests.

``s3_server`` starts one ``moto_server`` process per session on a free loopback port (its own
process, so memory measured in the tests is the client's alone) and points the standard AWS
environment at it (``AWS_ENDPOINT_URL``, a dummy key pair, a region), so the
real clients (s3fs, boto3) talk HTTP to it exactly as to any S3-compatible store.
``s3_bucket`` creates a fresh bucket for each test. ``moto_server()`` is the same start as a
context manager, for scripts (``benchmarks/bench_shared.py``) that run outside pytest.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

__all__ = ["s3_server", "s3_client", "s3_bucket", "S3_ENV", "moto_server"]

S3_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """Start ``moto_server`` on a free loopback port and point the AWS environment at it;
    yields the endpoint URL, and stops the server and restores the environment after."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1",
         "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"moto_server did not start on {endpoint}") from None
            time.sleep(0.2)
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing-key",
                      AWS_SECRET_ACCESS_KEY="testing-secret", AWS_DEFAULT_REGION="us-east-1")
    try:
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL of a moto S3 server, with the AWS environment pointing at it."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(s3_server):
    """A boto3 S3 client of the session's server."""
    import boto3

    return boto3.client("s3", endpoint_url=s3_server)


@pytest.fixture
def s3_bucket(s3_client) -> str:
    """A new, empty bucket on the session's S3 server."""
    name = f"test-{secrets.token_hex(6)}"
    s3_client.create_bucket(Bucket=name)
    return name
