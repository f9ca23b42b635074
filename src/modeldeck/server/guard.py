"""ASGI middleware: the API key (constant-time), the request body limit (413) and, for JSON bodies, the
nesting limit (400) checked on the raw bytes before any route parses them."""

from __future__ import annotations

import hmac
import json
import re

from .errors import ClientError, hf_body, is_openai_path, openai_body

OPEN_PATHS = ("/health",)  # answered without a key: load balancers and probes


async def send_error(send, path: str, error: ClientError) -> None:
    body = json.dumps(openai_body(error) if is_openai_path(path) else hf_body(error)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a body passes the limit."""


class Guard:
    """Checks the bearer key, then caps the body (Content-Length up front, streamed bytes as they come)."""

    def __init__(self, app, api_key: str | None, max_body: int):
        self.app = app
        self.key = api_key.encode() if api_key else None
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        if self.key is not None and path not in OPEN_PATHS and not self._authorized(headers):
            return await send_error(send, path, ClientError(
                401, "This server needs an API key.", hint="Send the header 'Authorization: Bearer KEY'.",
                code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"}))
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await send_error(send, path, self._too_large())
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope.get("method") in ("POST", "PUT", "PATCH") and (not kind or kind == b"application/json"
                                                                 or kind.endswith(b"+json")):
            return await self._json(scope, receive, send, path, typed=bool(kind))
        if scope.get("method") in ("POST", "PUT", "PATCH") and kind == b"application/x-www-form-urlencoded":
            # curl -d's label: the task routes read such a body as JSON when it looks like JSON, so it is checked
            return await self._json(scope, receive, send, path, typed=False)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(self._too_large())
            return message

        return await self.app(scope, limited, send)

    async def _json(self, scope, receive, send, path: str, typed: bool):
        """Read the whole body (under the size limit), refuse it when it nests too deep, else hand it on."""
        from .. import limits
        from .jsonbody import too_deep

        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return await send_error(send, path, self._too_large())
            more = message.get("more_body", False)
        body = b"".join(chunks)
        depth = int(limits.value("json_depth"))
        if typed or re.match(rb"\s*[\[{]", body):  # untyped: JSON only if it looks like it (not a raw file)
            if too_deep(body, depth):
                return await send_error(send, path, ClientError(
                    400, f"The JSON body nests deeper than {depth} levels.",
                    hint="Send flatter JSON (no request needs more), or raise MODELDECK_MAX_JSON_DEPTH when starting "
                         "the server.", code="json_too_deep"))
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    def _authorized(self, headers: dict) -> bool:
        given = headers.get(b"authorization", b"")
        scheme, _, token = given.partition(b" ")
        # compare_digest on equal-length inputs does not leak where they differ
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)

    def _too_large(self) -> ClientError:
        mb = self.max_body / 1024 / 1024
        return ClientError(413, f"The request body is over this server's limit of {mb:g} MB.",
                           hint="Send a smaller file, or start the server with a larger --max-body-mb.",
                           code="body_too_large")

