"""Bad `storage` settings and object storage that cannot be used, each with the message
that says what, where and how to fix it (and never a secret)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from tests.e2e.processes import assetflow as command
from tests.s3_server import ACCESS_KEY, SECRET_KEY, S3Server

ASSETS = """
    import pandas as pd

    from assetflow import asset

    @asset
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": range(3)})
"""


def config(storage: str) -> str:
    return f'[tool.assetflow]\nmodules = ["assets"]\nstorage = "{storage}"\n'


def run(
    root: Path, environ: dict[str, str], *args: str, path: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **environ,
        "PYTHONPATH": os.pathsep.join((*path, *sys.path)),
    }
    return subprocess.run(
        command(root, *args), env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_an_unknown_protocol_names_the_ones_there_are(make_project: Callable[..., Path]) -> None:
    root = make_project(ASSETS, config=config("ftp://files.example.com/outputs"))
    result = run(root, {}, "plan")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "`storage` in [tool.assetflow] uses the protocol 'ftp'" in result.stderr
    assert "s3://, gs://, az://" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_protocol_whose_package_is_missing_names_the_extra(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    """gcsfs made unimportable in the child process, as if the extra were not installed."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import sys

            class Blocker:
                def find_spec(self, name, path=None, target=None):
                    if name == "gcsfs" or name.startswith("gcsfs."):
                        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                    return None

            sys.meta_path.insert(0, Blocker())
            """
        )
    )
    root = make_project(ASSETS, config=config("gs://analytics-bucket/shop"))
    result = run(root, {}, "plan", path=(str(blocker),))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the package that reads it (gcsfs) is not installed" in result.stderr
    assert "pip install 'assetflow[gcs]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_credentials_in_the_url_are_refused_without_showing_them(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(ASSETS, config=config(f"s3://{ACCESS_KEY}:{SECRET_KEY}@bucket/p"))
    result = run(root, {}, "plan")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "write it as s3://BUCKET/prefix: credentials come from the environment" in (
        result.stderr
    )
    assert "AWS_ACCESS_KEY_ID" in result.stderr
    assert SECRET_KEY not in result.stderr + result.stdout
    assert ACCESS_KEY not in result.stderr + result.stdout


def test_missing_credentials_name_the_bucket_and_the_variables(
    make_project: Callable[..., Path], s3_server: S3Server, s3_bucket: str
) -> None:
    root = make_project(ASSETS, config=config(f"s3://{s3_bucket}/shop"))
    result = run(root, s3_server.environ(credentials=False), "materialize", "*")
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"no credentials were found for the s3:// bucket '{s3_bucket}'" in output
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in output
    assert "AWS_ENDPOINT_URL" in output
    assert "Traceback" not in output


def test_a_bucket_that_does_not_exist_is_named(
    make_project: Callable[..., Path], s3_server: S3Server
) -> None:
    root = make_project(ASSETS, config=config("s3://no-such-bucket-here/shop"))
    result = run(root, s3_server.environ(), "materialize", "*")
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "the bucket 'no-such-bucket-here' does not exist" in output
    assert "s3://no-such-bucket-here/shop" in output
    assert "`aws s3 mb s3://no-such-bucket-here`" in output
    assert SECRET_KEY not in output
    assert "Traceback" not in output
