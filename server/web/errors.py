"""Maps errors to the REST API's JSON error bodies: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from server.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(error: ProtocolError) -> web.Response:
    """The JSON response for a protocol error."""
    body = {"error": {"code": error.code.value, "message": error.message, **error.extra}}
    return web.json_response(body, status=error.http_status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure of a REST handler into a documented JSON error."""
    try:
        return await handler(request)
    except ProtocolError as exc:
        return error_response(exc)
    except web.HTTPRequestEntityTooLarge as exc:
        return error_response(
            ProtocolError(ErrorCode.PAYLOAD_TOO_LARGE, f"request body too large: {exc.text}")
        )
    except web.HTTPNotFound:
        return error_response(ProtocolError(ErrorCode.NOT_FOUND, f"no route {request.path}"))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(ProtocolError(ErrorCode.INTERNAL_ERROR, "internal server error"))
