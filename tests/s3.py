"""A real S3-compatible server for tests: moto's server mode, in a process of its own on 127.0.0.1.

A test module loads these fixtures with ``pytest_plugins = ["tests.s3"]`` (one server per
session, however many modules ask). Without moto or boto3 the tests that need the server
skip on a laptop and fail in CI (``require``).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import require


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class S3Server:
    """The running server, and a plain boto3 client to look into its buckets as a user would."""

    def __init__(self, endpoint: str):
        import boto3

        self.endpoint = endpoint
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint)

    def bucket(self) -> str:
        """A new, empty bucket."""
        name = f"onemap-test-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object in ``bucket`` below ``prefix``, with its bytes."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", ())]
        return {key: self.client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def _start(log) -> tuple[subprocess.Popen, int]:
    for _ in range(3):  # the free port may be taken between looking and binding: try another
        port = _free_port()
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            if _answers(port):
                return process, port
            time.sleep(0.05)
        process.kill()
        process.wait()
    pytest.fail(f"moto server did not start; see {log.name}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3 server on a free port of 127.0.0.1, with test credentials in boto3's usual chain."""
    missing = [name for name in ("boto3", "moto", "flask_cors") if importlib.util.find_spec(name) is None]
    require(not missing, f"S3 tests need moto[server] and boto3 (missing: {', '.join(missing)}; "
                         "pip install -e '.[test]')")
    with pytest.MonkeyPatch.context() as env:
        # The credentials reach the app the way real ones would (AWS_* variables); the developer's
        # own ~/.aws profile and endpoint never take part.
        env.setenv("AWS_ACCESS_KEY_ID", "onemap-test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "onemap-test-secret")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            env.delenv(name, raising=False)
        with open(tmp_path_factory.mktemp("moto") / "server.log", "wb") as log:
            process, port = _start(log)
            try:
                yield S3Server(f"http://127.0.0.1:{port}")
            finally:
                process.terminate()
                process.wait(timeout=10)


@pytest.fixture
def closed_endpoint():
    """An endpoint where nothing answers: a port held bound but not listening refuses connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"
