"""GET /monitor: the newest monitoring report (``skyprophet monitor`` writes them under
``reports/monitor/<name>/``): its page, its JSON and Evidently's per-input drift page."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from serving.monitoring import latest_report

router = APIRouter(tags=["monitor"])
FILES = {"report.json": "application/json", "drift.html": "text/html; charset=utf-8"}
NONE_YET = ("no monitoring report yet: run `skyprophet monitor --window 2013-12` (past months) or "
            "`skyprophet monitor --log data/prediction_log/<service>` (served traffic)")


async def _folder(request: Request) -> Path:
    folder = await asyncio.to_thread(latest_report, request.app.state.settings.reports_dir)
    if folder is None:
        raise HTTPException(404, NONE_YET)
    return folder


@router.get("/monitor", include_in_schema=False)
async def monitor_root() -> Response:
    return RedirectResponse("/monitor/", status_code=307)  # the page's links are relative to the folder


@router.get("/monitor/", response_class=HTMLResponse, responses={404: {"description": "no report yet"}})
async def monitor(request: Request) -> Response:
    """The newest monitoring report: drift, the adversarial validator, performance, skew, freshness."""
    return FileResponse(await _folder(request) / "report.html", media_type="text/html; charset=utf-8")


@router.get("/monitor/{name}", responses={404: {"description": "no report yet, or no such file"}})
async def monitor_file(name: str, request: Request) -> Response:
    """The newest report's ``report.json`` or Evidently's ``drift.html``."""
    if name not in FILES:
        raise HTTPException(404, f"no {name!r} in a report: {', '.join(FILES)}")
    path = await _folder(request) / name
    if not path.exists():
        raise HTTPException(404, f"the newest report has no {name}")
    return FileResponse(path, media_type=FILES[name])
