"""``skyprophet serve``: the prediction API with production settings."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from skyprophet.cli._common import OnlineOption


def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (2 measured best on 2 cores)")] = 2,
    online: OnlineOption = None,
) -> NoReturn:
    """Run the prediction API with production settings: uvicorn, uvloop + httptools, no debug options."""
    env = dict(os.environ)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="skyprophet-metrics-"))
    env["SKYPROPHET_ALLOW_DEBUG"] = "false"
    if online:
        env["SKYPROPHET_ONLINE_STORE"] = online
    uvicorn = str(Path(sys.executable).with_name("uvicorn"))
    args = [uvicorn, "serving.main:create_app", "--factory", "--host", host, "--port", str(port), "--workers", str(workers),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    os.execve(uvicorn, args, env)
