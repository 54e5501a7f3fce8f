"""A local stand-in for the CI's OIDC token endpoints, over TLS from the emulator's CA.

- GitHub Actions: ``GET /idtoken?api-version=2.0&audience=...`` with the runner's bearer
  token answers ``{"count": 1, "value": <JWT>}`` (the runner's token service).
- Azure DevOps: ``POST /oidctoken?api-version=7.1&serviceConnectionId=...`` with
  System.AccessToken answers ``{"oidcToken": <JWT>}``.

Every token is new (its own jti and iat), so a test can tell which request carried which.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from intune_step.emulator import Emulator
from intune_step.emulator.tls import CertificateAuthority, server_context

from ..certs import fake_jwt

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
ADO_ISSUER = "https://vstoken.dev.azure.com/5b0e0c8e-0000-4000-8000-00000000000a"


class OidcStandIn:
    def __init__(self, emu: Emulator, subject: str, *, request_token: str,
                 service_connection_id: str = "") -> None:
        self.subject = subject
        self.request_token = request_token
        self.service_connection_id = service_connection_id
        self.issued: list[str] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, query
        self.lock = threading.Lock()
        ca = CertificateAuthority.load_or_create(emu.state_dir)
        pair = ca.issue(emu.state_dir, "oidc-standin", ("127.0.0.1",))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = server_context(pair).wrap_socket(self._server.socket,
                                                               server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OidcStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def mint(self, issuer: str, audience: str) -> str:
        now = int(time.time())
        token = fake_jwt({"iss": issuer, "sub": self.subject, "aud": audience,
                          "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 300})
        with self.lock:
            self.issued.append(token)
        return token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _query(self) -> dict[str, str]:
                query = parse_qs(urlsplit(self.path).query)
                with standin.lock:
                    standin.requests.append((self.command, urlsplit(self.path).path,
                                             {k: v[0] for k, v in query.items()}))
                return {k: v[0] for k, v in query.items()}

            def _authorised(self) -> bool:
                return self.headers.get("Authorization") == f"Bearer {standin.request_token}"

            def do_GET(self) -> None:  # GitHub's token service
                query = self._query()
                if urlsplit(self.path).path != "/idtoken" or query.get("api-version") != "2.0":
                    return self._answer(404, {"message": "not found"})
                if not self._authorised():
                    return self._answer(401, {"message": "bad request token"})
                if not query.get("audience"):
                    return self._answer(400, {"message": "audience is required"})
                self._answer(200, {"count": 1,
                                   "value": standin.mint(GITHUB_ISSUER, query["audience"])})

            def do_POST(self) -> None:  # Azure DevOps' OIDC endpoint
                query = self._query()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if (urlsplit(self.path).path != "/oidctoken" or query.get("api-version") != "7.1"
                        or query.get("serviceConnectionId") != standin.service_connection_id):
                    return self._answer(404, {"message": "no such service connection"})
                if not self._authorised():
                    return self._answer(401, {"message": "bad access token"})
                self._answer(200, {"oidcToken": standin.mint(ADO_ISSUER,
                                                             "api://AzureADTokenExchange")})

        return Handler
