from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from intune_step.auth.tokens import TokenProvider
from intune_step.config.settings import Settings, build_settings
from intune_step.graph.client import GraphClient
from intune_step.report import RecordingReporter
from intune_step.transport.http import make_client
from intune_step.transport.retry import RetryPolicy

TENANT = "contoso.onmicrosoft.com"
LOGIN = f"https://login.microsoftonline.com/{TENANT}"
GRAPH = "https://graph.microsoft.com/beta"
SECRET = "unit-test-secret-value"
TOKEN = "eyJ0eXAiOiJKV1QifQ.eyJ0aWQiOiJ4In0.unit-test-access-token"


@pytest.fixture
def settings() -> Settings:
    return build_settings({
        "client-id": "11111111-2222-3333-4444-555555555555",
        "client-secret": SECRET,
        "auth-url": f"{LOGIN}/oauth2/v2.0/token",
        "setting-name": "unit",
    })


def add_discovery(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{LOGIN}/v2.0/.well-known/openid-configuration",
        json={
            "authorization_endpoint": f"{LOGIN}/oauth2/v2.0/authorize",
            "token_endpoint": f"{LOGIN}/oauth2/v2.0/token",
            "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        },
        is_reusable=True,
    )


def add_token(httpx_mock: HTTPXMock, token: str = TOKEN, reusable: bool = True) -> None:
    httpx_mock.add_response(
        method="POST", url=f"{LOGIN}/oauth2/v2.0/token",
        json={"token_type": "Bearer", "expires_in": 3599, "access_token": token},
        is_reusable=reusable,
    )


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def graph(httpx_mock: HTTPXMock, settings: Settings, sleeps: Sleeps) -> Iterator[GraphClient]:
    add_discovery(httpx_mock)
    add_token(httpx_mock)
    reporter = RecordingReporter()
    with make_client() as http:
        tokens = TokenProvider(settings, http, reporter)
        retry = RetryPolicy(attempts=4, sleep=sleeps, jitter=lambda lo, hi: hi)
        yield GraphClient(http, settings.graph_url, "beta", tokens, reporter, retry)


def intune_error(code: str, message: str, request_id: str = "rid-123") -> dict[str, Any]:
    nested = json.dumps({"_version": 3, "Message": message + " - Operation ID (for customer "
                         "support): 0000 - Activity ID: abc - Url: https://fef.example/x",
                         "CustomApiErrorPhrase": "", "RetryAfter": None})
    return {"error": {"code": code, "message": nested,
                      "innerError": {"request-id": request_id, "date": "2026-11-29T00:00:00"}}}
