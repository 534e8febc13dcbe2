"""Gzip for responses the browser accepts it for: a 100,000-trial study's JSON shrinks ~8x.

Only buffered bodies of text types are compressed (JSON, HTML, JS, CSS), and only
above ``MIN_BYTES``; files Flask streams (``send_file``) are left alone, and the
bundled Plotly is served pre-compressed by ``pages``.
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

MIN_BYTES = 1024
LEVEL = 5  # ~5x faster than 9 on JSON, a few percent larger
TEXT_TYPES = ("application/json", "text/html", "text/javascript", "text/css", "text/plain")


def accepts_gzip() -> bool:
    """True when the request's ``Accept-Encoding`` allows gzip."""
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def gzip_response(response: Response) -> Response:
    """After each request: gzip the body in place when it is worth it and allowed."""
    response.vary.add("Accept-Encoding")
    if (
        response.direct_passthrough
        or response.status_code < 200
        or response.status_code in (204, 304)
        or "Content-Encoding" in response.headers
        or response.mimetype not in TEXT_TYPES
        or not accepts_gzip()
    ):
        return response
    body = response.get_data()
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response


def install(app: Flask) -> None:
    app.after_request(gzip_response)
