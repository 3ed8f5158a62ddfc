"""A real S3-compatible server on 127.0.0.1 for the object storage tests: moto's server
mode, one per test session, on a free port; each test gets a fresh bucket on it."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

#: Credentials the server accepts (any are accepted; these are not secrets).
ACCESS_KEY = "assetflow-test-key"
SECRET_KEY = "assetflow-test-secret"


@dataclass
class S3Server:
    """A running server: its endpoint, and the environment that points a client at it."""

    server: ThreadedMotoServer
    endpoint: str

    def environ(self, *, credentials: bool = True) -> dict[str, str]:
        """AWS_* variables for a client of this server (and none from ~/.aws)."""
        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if credentials:
            env["AWS_ACCESS_KEY_ID"] = ACCESS_KEY
            env["AWS_SECRET_ACCESS_KEY"] = SECRET_KEY
        return env

    def create_bucket(self, environ: Mapping[str, str] | None = None) -> str:
        """A new, empty bucket's name."""
        import boto3

        env = self.environ()
        name = f"af-{uuid.uuid4().hex[:16]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        client.create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        self.server.stop()


def start_server() -> S3Server:
    """Start moto's S3 server on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer  # imported by the tests that use it only

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return S3Server(server, f"http://{host}:{port}")
