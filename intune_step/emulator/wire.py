"""Response bodies in the exact shapes of Entra, Graph/Intune and Azure Blob.

See docs/protocol.md, "Token request" and "Error bodies".
"""

from __future__ import annotations

import datetime as dt
import json
from email.utils import formatdate
from typing import Any
from xml.sax.saxutils import escape

from .server import Response

GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """Graph's DateTimeOffset rendering: ``2026-06-25T01:31:57.1234567Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def http_date(moment: dt.datetime) -> str:
    return formatdate(moment.timestamp(), usegmt=True)


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return Response(status, body, {"Content-Type": GRAPH_JSON, **(headers or {})})


def graph_headers(request_id: str, client_request_id: str | None) -> dict[str, str]:
    return {
        "request-id": request_id,
        "client-request-id": client_request_id or request_id,
        "x-ms-ags-diagnostic": json.dumps(
            {
                "ServerInfo": {
                    "DataCenter": "Emulator",
                    "Slice": "E",
                    "Ring": "0",
                    "ScaleUnit": "000",
                    "RoleInstance": "EMU000000000000",
                }
            }
        ),
        "OData-Version": "4.0",
    }


def intune_message(text: str, request_id: str, path: str, phrase: str = "") -> str:
    """Intune serialises a JSON document into ``error.message`` (docs/protocol.md, "Error
    bodies")."""
    url = f"https://fef.msua01.manage.microsoft.com/AppLifecycle_2510/StatelessAppMetadataFEService{path}?api-version=5025-10-01"
    inner = {
        "_version": 3,
        "Message": f"{text} - Operation ID (for customer support): {ZERO_GUID}"
        f" - Activity ID: {request_id} - Url: {url}",
        "CustomApiErrorPhrase": phrase,
        "RetryAfter": None,
        "ErrorSourceService": "",
        "HttpHeaders": "{}",
    }
    return json.dumps(inner, indent=2).replace("\n", "\r\n")


def graph_error(
    status: int,
    code: str,
    text: str,
    *,
    request_id: str,
    client_request_id: str | None = None,
    path: str = "",
    nested: bool = True,
    headers: dict[str, str] | None = None,
) -> Response:
    """A Graph error; ``nested`` wraps ``text`` in Intune's serialised message document."""
    message = intune_message(text, request_id, path) if nested else text
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": utcnow().strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }
    return json_response(
        status, body, {**graph_headers(request_id, client_request_id), **(headers or {})}
    )


def entra_error(
    status: int, error: str, code: int, description: str, *, request_id: str
) -> Response:
    now = utcnow()
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {request_id}"
        f" Correlation ID: {request_id} Timestamp: {now.strftime('%Y-%m-%d %H:%M:%SZ')}",
        "error_codes": [code],
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": request_id,
        "correlation_id": request_id,
        "error_uri": "https://login.microsoftonline.com/error?code=" + str(code),
    }
    return Response(
        status,
        json.dumps(body).encode(),
        {"Content-Type": "application/json; charset=utf-8", "x-ms-request-id": request_id},
    )


BLOB_MESSAGES = {
    "AuthenticationFailed": "Server failed to authenticate the request. Make sure the value of "
    "Authorization header is formed correctly including the signature.",
    "InvalidBlockList": "The specified block list is invalid.",
    "InvalidBlobOrBlock": "The specified blob or block content is invalid.",
    "InvalidQueryParameterValue": "Value for one of the query parameters specified in the "
    "request URI is invalid.",
    "MissingContentLengthHeader": "Content-Length HTTP header is missing.",
    "RequestBodyTooLarge": "The request body is too large and exceeds the maximum permissible "
    "limit.",
    "InvalidXmlDocument": "XML specified is not syntactically valid.",
    "ServerBusy": "The server is currently unable to receive requests. Please retry your request.",
    "InternalError": "The server encountered an internal error. Please retry the request.",
    "BlobNotFound": "The specified blob does not exist.",
    "ResourceNotFound": "The specified resource does not exist.",
    "UnsupportedHttpVerb": "The resource doesn't support specified Http Verb.",
    "Md5Mismatch": "The MD5 value specified in the request did not match with the MD5 value "
    "calculated by the server.",
    "OperationTimedOut": "Operation could not be completed within the specified time.",
    "TooManyRequests": "Too many requests.",
    "InvalidAuthenticationInfo": "Authentication information is not given in the correct "
    "format. Check the value of Authorization header.",
    "InvalidHeaderValue": "The value for one of the HTTP headers is not in the correct format.",
}

BLOB_CODE_BY_STATUS = {
    400: "InvalidQueryParameterValue",
    403: "AuthenticationFailed",
    404: "BlobNotFound",
    411: "MissingContentLengthHeader",
    413: "RequestBodyTooLarge",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServerBusy",
}


def blob_headers(request_id: str) -> dict[str, str]:
    return {"x-ms-request-id": request_id, "x-ms-version": "2017-04-17"}


def blob_error(
    status: int,
    code: str,
    *,
    request_id: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    elements: dict[str, str] | None = None,
) -> Response:
    """Azure's XML error; ``elements`` adds Azure's extra tags, e.g. HeaderName/HeaderValue."""
    now = utcnow()
    message = (
        f"{BLOB_MESSAGES.get(code, code)}\nRequestId:{request_id}\n"
        f"Time:{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}0Z"
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
    )
    if detail:
        tag = "AuthenticationErrorDetail" if code == "AuthenticationFailed" else "Detail"
        xml += f"<{tag}>{escape(detail)}</{tag}>"
    for tag, text in (elements or {}).items():
        xml += f"<{tag}>{escape(text)}</{tag}>"
    xml += "</Error>"
    return Response(
        status,
        xml.encode("utf-8"),
        {
            "Content-Type": "application/xml",
            "x-ms-error-code": code,
            **blob_headers(request_id),
            **(headers or {}),
        },
    )
