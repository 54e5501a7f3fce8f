"""Graph calls: retries on 429/503, Retry-After honoured, errors unwrapped, paging."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest
from pytest_httpx import HTTPXMock

from intune_step.errors import GraphError, PermissionDeniedError, ServiceError
from intune_step.graph.client import GraphClient

from ..conftest import GRAPH, TOKEN, Sleeps, intune_error

APPS = f"{GRAPH}/deviceAppManagement/mobileApps"


def test_bearer_token_and_utf8_json(httpx_mock: HTTPXMock, graph: GraphClient) -> None:
    httpx_mock.add_response(method="POST", url=APPS, status_code=201, json={"id": "a1"})
    created = graph.post("deviceAppManagement/mobileApps", {"displayName": "Café ☕ 東京"})
    assert created == {"id": "a1"}
    request = httpx_mock.get_requests(method="POST", url=APPS)[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(request.content.decode("utf-8"))["displayName"] == "Café ☕ 東京"
    assert "Café ☕ 東京".encode() in request.content  # raw UTF-8, not \\u escapes


def test_429_waits_for_retry_after(httpx_mock: HTTPXMock, graph: GraphClient,
                                   sleeps: Sleeps) -> None:
    httpx_mock.add_response(method="GET", url=APPS, status_code=429,
                            headers={"Retry-After": "7"}, json=intune_error("TooMany", "slow"))
    httpx_mock.add_response(method="GET", url=APPS, json={"value": [{"id": "x"}]})
    assert graph.get("deviceAppManagement/mobileApps") == {"value": [{"id": "x"}]}
    assert sleeps == [pytest.approx(7.0, abs=0.5)]  # at the shared gate, from its clock


def test_429_without_retry_after_backs_off_exponentially(
    httpx_mock: HTTPXMock, graph: GraphClient, sleeps: Sleeps
) -> None:
    for _ in range(2):
        httpx_mock.add_response(method="GET", url=APPS, status_code=429)
    httpx_mock.add_response(method="GET", url=APPS, json={"value": []})
    graph.get("deviceAppManagement/mobileApps")
    assert sleeps == [1.0, 2.0]


def test_503_is_retried_then_gives_up_with_request_id(
    httpx_mock: HTTPXMock, graph: GraphClient, sleeps: Sleeps
) -> None:
    for _ in range(4):
        httpx_mock.add_response(method="GET", url=APPS, status_code=503,
                                headers={"request-id": "rid-503"})
    with pytest.raises(GraphError) as caught:
        graph.get("deviceAppManagement/mobileApps", what="list apps")
    assert len(sleeps) == 3
    assert caught.value.status == 503
    assert "list apps failed: HTTP 503" in caught.value.one_line()
    assert "request-id rid-503" in caught.value.one_line()


def test_403_names_the_missing_permission(httpx_mock: HTTPXMock, graph: GraphClient) -> None:
    httpx_mock.add_response(
        method="POST", url=APPS, status_code=403,
        json=intune_error("Forbidden", "Application is not authorized to perform this "
                          "operation. Application must have one of the following scopes: "
                          "DeviceManagementApps.ReadWrite.All"),
    )
    with pytest.raises(PermissionDeniedError) as caught:
        graph.post("deviceAppManagement/mobileApps", {}, what="create the app")
    line = caught.value.one_line()
    assert "create the app failed: HTTP 403 Forbidden" in line
    assert "DeviceManagementApps.ReadWrite.All" in line and "admin consent" in line
    assert "request-id rid-123" in line
    assert "Operation ID" not in line  # Intune's routing tail is dropped
    assert caught.value.exit_code == 2


def test_400_validation_message_is_unwrapped(httpx_mock: HTTPXMock, graph: GraphClient) -> None:
    httpx_mock.add_response(method="POST", url=APPS, status_code=400, json=intune_error(
        "BadRequest", "The Win32LobApp must have at least one detection rule specified."))
    with pytest.raises(GraphError, match="at least one detection rule specified") as caught:
        graph.post("deviceAppManagement/mobileApps", {})
    assert caught.value.status == 400


def test_401_refreshes_the_token_once(httpx_mock: HTTPXMock, graph: GraphClient) -> None:
    httpx_mock.add_response(method="GET", url=APPS, status_code=401)
    httpx_mock.add_response(method="GET", url=APPS, json={"value": []})
    graph.get("deviceAppManagement/mobileApps")
    token_posts = [r for r in httpx_mock.get_requests() if r.url.path.endswith("/token")]
    assert len(token_posts) == 2


def test_paging_follows_next_link(httpx_mock: HTTPXMock, graph: GraphClient) -> None:
    httpx_mock.add_response(method="GET", url=APPS,
                            json={"value": [{"id": "1"}], "@odata.nextLink": f"{APPS}?page=2"})
    httpx_mock.add_response(method="GET", url=f"{APPS}?page=2", json={"value": [{"id": "2"}]})
    assert [a["id"] for a in graph.get_all("deviceAppManagement/mobileApps")] == ["1", "2"]


@pytest.mark.parametrize("link", [
    "https://graph.evil.example/beta/deviceAppManagement/mobileApps?page=2",
    "https://graph.microsoft.com.evil.example/beta/deviceAppManagement/mobileApps",
    "http://graph.microsoft.com/beta/deviceAppManagement/mobileApps?page=2",
    "https://graph.microsoft.com:8443/beta/deviceAppManagement/mobileApps",
    "HTTPS://attacker@graph.evil.example/beta",
])
def test_the_token_never_follows_a_next_link_to_another_host(
    httpx_mock: HTTPXMock, graph: GraphClient, link: str
) -> None:
    httpx_mock.add_response(method="GET", url=APPS,
                            json={"value": [{"id": "1"}], "@odata.nextLink": link})
    with pytest.raises(ServiceError, match=r"not to its own host graph\.microsoft\.com"):
        list(graph.get_all("deviceAppManagement/mobileApps"))
    graph_calls = [r for r in httpx_mock.get_requests() if "Authorization" in r.headers]
    assert [str(r.url) for r in graph_calls] == [APPS]  # nothing went to the other host


def test_connection_errors_retry_and_a_sent_create_is_not_repeated(
    httpx_mock: HTTPXMock, graph: GraphClient, sleeps: Sleeps
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), method="GET", url=APPS)
    httpx_mock.add_response(method="GET", url=APPS, json={"value": []})
    graph.get("deviceAppManagement/mobileApps")
    assert len(sleeps) == 1
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), method="POST", url=APPS)
    with pytest.raises(ServiceError, match="ReadTimeout"):
        graph.post("deviceAppManagement/mobileApps", {}, idempotent=False)
    assert len(httpx_mock.get_requests(method="POST", url=APPS)) == 1


def test_a_read_retries_a_500_and_a_write_does_not(
    httpx_mock: HTTPXMock, graph: GraphClient, sleeps: Sleeps
) -> None:
    httpx_mock.add_response(method="GET", url=APPS, status_code=500,
                            json=intune_error("InternalServerError", "An error has occurred"))
    httpx_mock.add_response(method="GET", url=APPS, json={"value": []})
    assert graph.get("deviceAppManagement/mobileApps") == {"value": []}
    assert len(sleeps) == 1
    httpx_mock.add_response(method="POST", url=APPS, status_code=500,
                            json=intune_error("InternalServerError", "An error has occurred"))
    with pytest.raises(GraphError, match="HTTP 500"):
        graph.post("deviceAppManagement/mobileApps", {})
    assert len(httpx_mock.get_requests(method="POST", url=APPS)) == 1
    assert len(sleeps) == 1


def test_an_untrusted_certificate_is_not_retried(
    httpx_mock: HTTPXMock, graph: GraphClient, sleeps: Sleeps
) -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "unable to get local issuer certificate"
    error = httpx.ConnectError("verify failed")
    error.__cause__ = verify
    httpx_mock.add_exception(error, method="GET", url=APPS)
    with pytest.raises(ServiceError) as caught:
        graph.get("deviceAppManagement/mobileApps")
    line = caught.value.one_line()
    assert "TLS certificate verification failed (unable to get local issuer certificate)" in line
    assert "SSL_CERT_FILE" in line
    assert sleeps == []  # another try could not have helped
