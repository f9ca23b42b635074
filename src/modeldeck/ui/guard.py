"""The HTTP server's request guard in front of the web UI too: a body over the cap is a 413 and JSON nested too
deep a 400, before Gradio's routes or ``/api/stop`` read it (Gradio caps neither; a 60 MB POST was read whole)."""

from __future__ import annotations

from typing import Any

from ..server.errors import ClientError
from ..server.guard import BodyTooLarge, Guard, send_error

MB = 1024 * 1024


def max_body() -> int:
    """The cap on one request's body, in bytes (``MODELDECK_MAX_BODY_MB``, 50 MB as the server's)."""
    from .. import limits

    return int(limits.value("body_mb") * MB)


class PageGuard(Guard):
    """``server.guard.Guard`` without the API key (the page's login covers the page; ``/api/*`` checks its own),
    answering in the server's words but with the UI's way to raise the cap."""

    def __init__(self, app, max_body: int):
        super().__init__(app, api_key=None, max_body=max_body)

    async def __call__(self, scope, receive, send):
        started = False

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await super().__call__(scope, receive, watched)
        except BodyTooLarge as error:  # a streamed body (no Content-Length) went over while a route read it
            if started:
                raise
            await send_error(send, scope.get("path", ""), error.args[0])

    def _too_large(self) -> ClientError:
        return ClientError(413, f"The request body is over this page's limit of {self.max_body / MB:g} MB.",
                           hint="Send a smaller file, or start the UI with MODELDECK_MAX_BODY_MB raised.",
                           code="body_too_large")


def app_kwargs(given: dict[str, Any] | None = None) -> dict[str, Any]:
    """Gradio's ``launch(app_kwargs=...)`` (the FastAPI app it makes) with the guard in front of every route."""
    from starlette.middleware import Middleware

    kwargs = dict(given or {})
    kwargs["middleware"] = [*kwargs.get("middleware", ()), Middleware(PageGuard, max_body=max_body())]
    return kwargs
