"""Request bodies judged as Graph judges them: by the type's properties in Microsoft's generated
SDK models (intune_step/emulator/graph_models.json) and by each LOB type's required properties.

Every test here is a body the emulator once accepted and Graph does not (issue 18's adversarial
client). The sources are in docs/protocol.md, "Request bodies" and "Required properties".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from intune_step.emulator import Emulator
from intune_step.emulator.schema import sdk_versions

from .helpers import LOB_BODIES, Api, ios_body, lob_body, win32_body

REPO = Path(__file__).resolve().parents[2]
APPS = "deviceAppManagement/mobileApps"
ALL_TYPES = ["iosLobApp", "win32LobApp", *LOB_BODIES]


def _error(response: Any) -> tuple[str, str]:
    """(code, human text) of a Graph error, unwrapping Intune's nested JSON message."""
    error = response.json()["error"]
    try:
        return error["code"], json.loads(error["message"])["Message"]
    except ValueError:
        return error["code"], error["message"]


def _refused(api: Api, body: dict[str, Any], text: str, code: str | None = None) -> None:
    response = api.call("POST", APPS, body)
    assert response.status_code == 400, response.text
    got_code, message = _error(response)
    assert text in message, message
    if code is not None:
        assert got_code == code
    assert api.emu.apps() == []


@pytest.mark.parametrize("version", ["beta", "v1.0"])
@pytest.mark.parametrize("type_name", ALL_TYPES)
def test_every_type_is_created_from_a_valid_body(
    emu: Emulator, api: Api, type_name: str, version: str
) -> None:
    """The positive side of every rule below, per type and API version (macOSPkgApp exists
    only in beta: https://learn.microsoft.com/graph/api/resources/intune-apps-macospkgapp)."""
    api.version = version
    response = api.call("POST", APPS, lob_body(type_name))
    if type_name == "macOSPkgApp" and version == "v1.0":
        assert response.status_code == 400 and "could not be resolved" in response.text
        return
    assert response.status_code == 201, response.text
    entity = response.json()
    assert entity["@odata.type"] == f"#microsoft.graph.{type_name}"


# --- properties the type does not define ----------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "name", "value"),
    [
        ("iosLobApp", "identityVersion", "1.0"),  # the 2018 sample's, not in the schema
        ("iosLobApp", "packageId", "com.contoso.field"),  # Android's identity
        ("androidLobApp", "bundleId", "com.contoso.a"),
        ("win32LobApp", "productCode", "{23170F69-40C1-2702-2301-000001000000}"),
        ("macOSDmgApp", "bundleId", "com.contoso.d"),
    ],
)
def test_a_property_the_type_does_not_define_is_refused(
    emu: Emulator, api: Api, type_name: str, name: str, value: Any
) -> None:
    """Intune answers 400 ModelValidationFailure "The property 'X' does not exist on type
    'microsoft.management.services.api.Y'. Make sure to only use property names that are
    defined by the type." (microsoft/Intune-PowerShell-SDK#97, #98). The properties of each
    type: https://learn.microsoft.com/graph/api/resources/intune-apps-ioslobapp and siblings,
    as msgraph-sdk/msgraph-beta-sdk model them."""
    _refused(
        api,
        lob_body(type_name, **{name: value}),
        f"The property '{name}' does not exist on type "
        f"'microsoft.management.services.api.{type_name}'",
        "ModelValidationFailure",
    )


def test_a_minimum_os_flag_that_does_not_exist_is_refused(emu: Emulator, api: Api) -> None:
    """iosMinimumOperatingSystem has only the documented vN_0 flags
    (https://learn.microsoft.com/graph/api/resources/intune-apps-iosminimumoperatingsystem);
    v26_0 exists in beta only, v99_0 nowhere. The same error names the complex type
    (MSEndpointMgr/IntuneWin32App#181 for win32LobAppRequirement)."""
    _refused(
        api,
        ios_body(minimumSupportedOperatingSystem={"v99_0": True}),
        "The property 'v99_0' does not exist on type "
        "'microsoft.management.services.api.iosMinimumOperatingSystem'",
    )
    api.version = "v1.0"
    _refused(api, ios_body(minimumSupportedOperatingSystem={"v26_0": True}), "'v26_0'")
    api.version = "beta"
    assert api.create_app(ios_body(minimumSupportedOperatingSystem={"v26_0": True}))


def test_a_beta_only_property_is_refused_on_v1(emu: Emulator, api: Api) -> None:
    """windowsMobileMSI has identityVersion and useDeviceContext in beta only
    (https://learn.microsoft.com/graph/api/resources/intune-apps-windowsmobilemsi?view=graph-rest-1.0)."""
    api.version = "v1.0"
    _refused(api, lob_body("windowsMobileMSI", useDeviceContext=True), "'useDeviceContext'")
    api.version = "beta"
    assert api.create_app(lob_body("windowsMobileMSI", useDeviceContext=True))


def test_a_value_of_the_wrong_kind_is_refused(emu: Emulator, api: Api) -> None:
    """versionCode is an Edm.String, applicableDeviceType an object
    (https://learn.microsoft.com/graph/api/resources/intune-apps-androidlobapp)."""
    _refused(api, lob_body("androidLobApp", versionCode=10), "'versionCode'")
    _refused(api, ios_body(applicableDeviceType=True), "StartObject")
    _refused(api, lob_body("windowsUniversalAppX", applicableArchitectures="sparc"), "sparc")


# --- @odata.type ----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["#iosLobApp", "iosLobApp", "#graph.iosLobApp", "#ios.LobApp"])
def test_odata_type_needs_the_namespace(emu: Emulator, api: Api, raw: str) -> None:
    """A type name resolves only with its namespace, `#microsoft.graph.iosLobApp`
    (https://learn.microsoft.com/graph/api/intune-apps-ioslobapp-create); otherwise OData's
    "A type named '…' could not be resolved by the model"."""
    _refused(api, ios_body(**{"@odata.type": raw}), "could not be resolved", "BadRequest")


def test_odata_type_case_and_hash_are_free(emu: Emulator, api: Api) -> None:
    """Microsoft's own samples post `#microsoft.graph.iosLOBApp` and work
    (microsoftgraph/powershell-intune-samples, LOB_Application): case does not matter."""
    for raw in ("#microsoft.graph.iosLOBApp", "microsoft.graph.IOSLOBAPP"):
        assert api.create_app(ios_body(**{"@odata.type": raw}))["@odata.type"] == (
            "#microsoft.graph.iosLobApp"
        )


def test_a_beta_only_type_is_refused_on_v1(emu: Emulator, api: Api) -> None:
    """macOSPkgApp is documented in beta only
    (https://learn.microsoft.com/graph/api/resources/intune-apps-macospkgapp?view=graph-rest-beta)
    and msgraph-sdk (v1.0) has no such model."""
    api.version = "v1.0"
    _refused(api, lob_body("macOSPkgApp"), "'microsoft.graph.macOSPkgApp' could not be resolved")


def test_a_nested_type_must_fit_its_property(emu: Emulator, api: Api) -> None:
    """A derived @odata.type inside a property must derive from the property's type: a
    detection (legacy) type is no win32LobAppRule
    (https://learn.microsoft.com/graph/api/resources/intune-apps-win32lobapprule)."""
    rule = {
        "@odata.type": "#microsoft.graph.win32LobAppProductCodeDetection",
        "productCode": "{23170F69-40C1-2702-2301-000001000000}",
    }
    _refused(api, win32_body(rules=[rule]), "not assignable")


# --- required properties ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "overrides", "text"),
    [
        ("iosLobApp", {"applicableDeviceType": None}, "applicableDeviceType"),
        ("iosLobApp", {"applicableDeviceType": {"iPad": False, "iPhoneAndIPod": False}},
         "applicableDeviceType"),
        ("iosLobApp", {"minimumSupportedOperatingSystem": None}, "minimumSupportedOperating"),
        ("iosLobApp", {"minimumSupportedOperatingSystem": {"v15_0": False}}, "exactly one"),
        ("iosLobApp", {"fileName": None}, "fileName"),
        ("androidLobApp", {"minimumSupportedOperatingSystem": None}, "minimumSupported"),
        ("androidLobApp", {"fileName": ""}, "fileName"),
        ("windowsUniversalAppX", {"applicableArchitectures": None}, "applicableArchitectures"),
        ("windowsUniversalAppX", {"applicableArchitectures": "none"}, "applicableArchitectures"),
        ("macOSPkgApp", {"includedApps": []}, "includedApps"),
        ("macOSPkgApp", {"includedApps": None}, "includedApps"),
        ("macOSPkgApp", {"primaryBundleVersion": None}, "primaryBundleVersion"),
        ("macOSDmgApp", {"includedApps": [{"bundleId": "com.contoso.d"}]}, "bundleVersion"),
    ],
)  # fmt: skip
def test_a_required_property_missing_is_refused(
    emu: Emulator, api: Api, type_name: str, overrides: dict[str, Any], text: str
) -> None:
    """Intune's create rules per type (docs/protocol.md, "Required properties"): the
    minimum-OS object has exactly one true flag
    (https://learn.microsoft.com/graph/api/resources/intune-apps-iosminimumoperatingsystem),
    an iOS app runs on an iPad or iPhone (…/intune-apps-iosdevicetype), a PKG/DMG lists the
    apps it installs (…/intune-apps-macospkgapp, …/intune-apps-macosincludedapp)."""
    body = lob_body(type_name, **overrides)
    body = {k: v for k, v in body.items() if v is not None}
    _refused(api, body, text)


def test_version_numbers_are_not_required_by_default(emu: Emulator, api: Api) -> None:
    """No Microsoft page says a LOB app needs its version numbers to be created, so the
    emulator does not invent that rule (EmulatorConfig.require_version_numbers)."""
    body = ios_body()
    del body["versionNumber"], body["buildNumber"]
    assert api.create_app(body)
    android = lob_body("androidLobApp", versionCode="ten")
    assert api.create_app(android)


@pytest.mark.emu(require_version_numbers=True, refuse_expired_profile=True)
def test_the_invented_rules_can_be_asked_for(emu: Emulator, api: Api) -> None:
    """Opt-in, for tests that want them: version numbers present and an unexpired profile
    (Microsoft's samples check the expiry on the client:
    microsoftgraph/powershell-intune-samples, LOB_Application/Application_iOS_Add.ps1)."""
    body = ios_body()
    del body["versionNumber"]
    _refused(api, body, "versionNumber")
    _refused(api, lob_body("androidLobApp", versionCode="ten"), "versionCode")
    _refused(api, ios_body(expirationDateTime="2020-01-01T00:00:00Z"), "expired")


def test_an_expired_profile_is_not_the_services_business(emu: Emulator, api: Api) -> None:
    """The expiry check is the client's (see above); the service is not known to make it."""
    assert api.create_app(ios_body(expirationDateTime="2020-01-01T00:00:00Z"))


# --- PATCH ---------------------------------------------------------------------------------------


def test_patch_is_judged_like_create(emu: Emulator, api: Api) -> None:
    """Update iosLobApp (https://learn.microsoft.com/graph/api/intune-apps-ioslobapp-update)
    takes the same properties as create: a subtype property without @odata.type does not
    exist on mobileApp (the type the body is then read as; microsoftgraph/
    microsoft-graph-docs-contrib#8897), and a required property cannot be blanked."""
    app = api.create_app()
    path = f"{APPS}/{app['id']}"
    typed = {"@odata.type": "#microsoft.graph.iosLobApp"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"bundleId": "com.contoso.other"}, "'microsoft.management.services.api.mobileApp'"),
        ({**typed, "bundleId": None}, "bundleId"),
        ({**typed, "bundleId": ""}, "bundleId"),
        ({**typed, "applicableDeviceType": {"iPad": False}}, "applicableDeviceType"),
        ({**typed, "identityVersion": "1"}, "'identityVersion' does not exist"),
        ({"@odata.type": "iosLobApp", "notes": "x"}, "could not be resolved"),
    ]
    for body, text in cases:
        response = api.call("PATCH", path, body)
        assert response.status_code == 400, (body, response.text)
        assert text in _error(response)[1], (body, response.text)
    assert api.ok("GET", path)["bundleId"] == "com.contoso.field"
    # Base properties need no @odata.type; the subtype's need it.
    assert api.call("PATCH", path, {"notes": "n"}).status_code == 204
    assert api.call("PATCH", path, {**typed, "versionNumber": "3"}).status_code == 204
    assert api.ok("GET", path)["versionNumber"] == "3"


def test_a_get_shows_what_graph_would_store(emu: Emulator, api: Api) -> None:
    """A GET returns the type's properties in the version asked, not an echo of the body:
    read-only properties sent are ignored, every other property is present (null when
    unset), and beta-only ones are absent from v1.0
    (https://learn.microsoft.com/graph/api/intune-apps-ioslobapp-get)."""
    app = api.create_app(ios_body(size=99, createdDateTime="2001-01-01T00:00:00Z"))
    beta = api.ok("GET", f"{APPS}/{app['id']}")
    assert beta["size"] == 0 and not beta["createdDateTime"].startswith("2001")
    assert beta["committedContentVersion"] is None and beta["owner"] is None
    assert beta["roleScopeTagIds"] == ["0"]
    api.version = "v1.0"
    v1 = api.ok("GET", f"{APPS}/{app['id']}")
    assert "roleScopeTagIds" not in v1 and "appleDeviceAppDeliveryProtocolType" not in v1
    assert set(beta) > set(v1)


# --- the data file is Microsoft's models, not a hand copy -------------------------------------


def test_the_models_record_their_sdk_versions() -> None:
    assert sdk_versions() == {"v1.0": "msgraph-sdk==1.65.0", "beta": "msgraph-beta-sdk==1.66.0"}


def test_graph_models_json_is_regenerated_from_the_sdks() -> None:
    """scripts/graph-models reads the pinned SDK wheels (cached by `scripts/graph-models
    --fetch`, which scripts/setup runs in CI, so CI never skips this) and must reproduce the
    committed file byte for byte."""
    cache = REPO / ".cache" / "graph-sdk"
    if not any(cache.glob("msgraph_beta_sdk-*.whl")) or not any(cache.glob("msgraph_sdk-*.whl")):
        pytest.skip("the SDK wheels are not cached: run scripts/graph-models --fetch")
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "graph-models"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
