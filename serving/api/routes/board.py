"""GET /board: the departures board, a page over ``GET /departures`` (plain HTML and a little
JavaScript, no build step)."""

from __future__ import annotations

import asyncio
import html
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from serving.services import Services

router = APIRouter(tags=["board"])
PAGE = Path(__file__).resolve().parents[2] / "static" / "board.html"
PAST_HOURS = 2  # departed flights shown below the coming ones


@lru_cache(maxsize=1)
def _template() -> str:
    return PAGE.read_text(encoding="utf-8")


@router.get("/board", response_class=HTMLResponse, responses={409: {"description": "neither live nor snapshot mode"}})
async def board(request: Request) -> HTMLResponse:
    """The coming departures of an origin with their delay probability, decision, top factors and
    feature age, refreshed as the clock advances; the outcome beside the prediction once a flight
    has departed, and the page's running hit rate."""
    services: Services = request.app.state.services
    settings = services.settings
    departures = services.departures
    if departures is None:
        return HTMLResponse("<!doctype html><title>SkyProphet</title><p>The departures board needs live mode "
                            "(SKYPROPHET_LIVE=true, as <code>make live</code> runs it) or snapshot mode "
                            "(SKYPROPHET_SNAPSHOT=true, as <code>make run</code> runs it).</p>", status_code=409)
    origins = await asyncio.to_thread(departures.origins) or ["EWR"]
    options = "".join(f'<option value="{html.escape(o)}">{html.escape(o)}</option>' for o in origins)
    values = {"__ORIGINS__": options, "__FEAST_UI__": html.escape(settings.feast_ui_url),
              "__MLFLOW_UI__": html.escape(settings.mlflow_ui_url), "__REFRESH_MS__": str(settings.board_refresh_ms),
              "__PAST_HOURS__": str(PAST_HOURS)}
    page = _template()
    for placeholder, value in values.items():
        page = page.replace(placeholder, value)
    return HTMLResponse(page)
