"""Plumbing shared by the Graph handlers: the per-request context, errors, bodies, paging."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from .server import Request, Response
from .wire import graph_error, graph_headers, json_response


class HttpError(Exception):
    """Raised by a handler to answer with a Graph error (Intune-nested unless ``nested``)."""

    def __init__(
        self,
        status: int,
        code: str,
        text: str,
        *,
        nested: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(text)
        self.status = status
        self.code = code
        self.text = text
        self.nested = nested
        self.headers = headers or {}


def bad_request(text: str, *, nested: bool = True) -> HttpError:
    return HttpError(400, "BadRequest", text, nested=nested)


def not_found(what: str) -> HttpError:
    return HttpError(404, "ResourceNotFound", f"{what} was not found.")


def method_not_allowed(method: str) -> HttpError:
    return HttpError(
        405, "BadRequest", f"The HTTP method '{method}' is not allowed here.", nested=False
    )


def segment_error(segment: str) -> HttpError:
    return HttpError(
        400, "BadRequest", f"Resource not found for the segment '{segment}'.", nested=False
    )


@dataclass
class Ctx:
    """One Graph request: who asked, which API version, and how to answer."""

    request: Request
    version: str  # "v1.0" | "beta"
    graph_url: str
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, request: Request, version: str, graph_url: str) -> Ctx:
        query: dict[str, str] = {}
        for name, value in parse_qsl(request.query, keep_blank_values=True):
            key = name if name.startswith("$") else f"${name}"
            query[key.lower()] = value
        return cls(request, version, graph_url, query)

    @property
    def beta(self) -> bool:
        return self.version == "beta"

    @property
    def api_path(self) -> str:
        """The request path without its version segment: ``/deviceAppManagement/...``."""
        return "/" + self.request.path.lstrip("/").partition("/")[2]

    @property
    def base(self) -> str:
        return f"{self.graph_url}/{self.version}"

    def context(self, fragment: str) -> str:
        return f"{self.base}/$metadata#{fragment}"

    def headers(self) -> dict[str, str]:
        return graph_headers(self.request.request_id, self.request.headers.get("client-request-id"))

    def json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> Response:
        return json_response(status, obj, {**self.headers(), **(extra or {})})

    def empty(self, status: int) -> Response:
        return Response(status, b"", self.headers())

    def error(self, exc: HttpError) -> Response:
        return graph_error(
            exc.status,
            exc.code,
            exc.text,
            request_id=self.request.request_id,
            client_request_id=self.request.headers.get("client-request-id"),
            path=self.api_path,
            nested=exc.nested,
            headers=exc.headers,
        )

    def preload(self) -> None:
        """Read the body now, before the state lock is taken: a slow client must not stall
        every other Graph request."""
        self._raw = self.request.read_body()

    def body(self) -> dict[str, Any]:
        """The JSON object body; an empty body counts as ``{}``."""
        raw = getattr(self, "_raw", None)
        if raw is None:
            raw = self.request.read_body()
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad_request("Unable to read JSON request payload.", nested=False) from exc
        if not isinstance(value, dict):
            raise bad_request("The request payload must be a JSON object.", nested=False)
        return value

    def top(self) -> int | None:
        raw = self.query.get("$top")
        if raw is None:
            return None
        if not raw.isdigit():
            raise bad_request(f"Invalid value '{raw}' for $top query option.", nested=False)
        return int(raw)

    def page(
        self,
        items: list[dict[str, Any]],
        *,
        context: str,
        page_size: int,
    ) -> Response:
        """A collection page: $top caps the total, pages hold ``page_size``, nextLink goes on."""
        top = self.top()
        total = items if top is None else items[:top]
        raw_skip = self.query.get("$skiptoken", "0")
        offset = int(raw_skip) if raw_skip.isdigit() else 0
        chunk = total[offset : offset + page_size]
        body: dict[str, Any] = {"@odata.context": context}
        if self.query.get("$count", "").lower() == "true":
            body["@odata.count"] = len(total)
        body["value"] = chunk
        if offset + page_size < len(total):
            params = {k: v for k, v in self.query.items() if k != "$skiptoken"}
            params["$skiptoken"] = str(offset + page_size)
            body["@odata.nextLink"] = f"{self.base}{self.api_path}?" + urlencode(
                params, safe="$'(),:", quote_via=quote
            )
        return self.json(200, body)
