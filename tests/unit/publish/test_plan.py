"""The plan: field diffs that ignore what Graph does not distinguish, and its renderings."""

from __future__ import annotations

import json

from intune_step.config.assignments import parse_assignments
from intune_step.graph.assignments import diff
from intune_step.graph.categories import CategoryPlan
from intune_step.publish.plan import FieldChange, Plan, changes

ICON = {"@odata.type": "#microsoft.graph.mimeContent", "type": "image/png", "value": "iVBORw=="}


def test_changes_compare_like_graph() -> None:
    current = {"displayName": "A", "description": None, "roleScopeTagIds": ["5", "0"],
               "minimumSupportedOperatingSystem": {"@odata.type": "x", "v15_0": True,
                                                    "v16_0": False},
               "largeIcon": ICON, "applicableDeviceType": {"iPad": True, "iPhoneAndIPod": True}}
    same = {"displayName": "A", "description": "", "roleScopeTagIds": ["0", "5"],
            "minimumSupportedOperatingSystem": {"v15_0": True}, "largeIcon": dict(ICON),
            "applicableDeviceType": {"iPad": True, "iPhoneAndIPod": True},
            "@odata.type": "#microsoft.graph.iosLobApp", "notes": "ignored"}
    assert changes(current, same) == []
    other = {"displayName": "B", "minimumSupportedOperatingSystem": {"v16_0": True},
             "largeIcon": {**ICON, "value": "AAAA"}, "roleScopeTagIds": ["0"]}
    found = {c.field: c for c in changes(current, other)}
    assert set(found) == {"displayName", "minimumSupportedOperatingSystem", "largeIcon",
                          "roleScopeTagIds"}
    assert found["largeIcon"].new.startswith("image/png 3 bytes sha256 ")  # never the base64


def test_plan_json_and_lines() -> None:
    current = [{"intent": "required", "target": {
        "@odata.type": "#microsoft.graph.groupAssignmentTarget",
        "groupId": "00000000-0000-0000-0000-000000000001"}}]
    plan = Plan(operation="update", app_type="iosLobApp", identity="com.a", display_name="A",
                version="1.1 (11)", file_sha256="f" * 64, app_id="app-1", current_version="10",
                content_changes=[FieldChange("buildNumber", "10", "11")],
                metadata=[FieldChange("displayName", "A", "B")],
                assignments=diff(current, parse_assignments(
                    "- intent: available\n  target: all-devices"), replace=True),
                categories=CategoryPlan((("c1", "Business"),), ("Other apps",)),
                notes=["icon: image/png 10 bytes from x"])
    data = json.loads(plan.json_line())
    assert data["operation"] == "update" and data["appId"] == "app-1"
    assert data["version"] == {"current": "10", "new": "1.1 (11)"}
    assert data["content"] == [{"field": "buildNumber", "from": "10", "to": "11"}]
    assert data["assignments"]["add"][0]["target"] == "allDevicesAssignmentTarget"
    assert data["categories"] == {"add": ["Business"], "keep": ["Other apps"]}
    assert "\n" not in plan.json_line()
    text = "\n".join(plan.lines())
    assert text.startswith("upload 1.1 (11) as a new content version of app-1 ('A', now 10)")
    assert "~ buildNumber: '10' -> '11'" in text and "+ available: all devices" in text
    assert "- required: group 00000000-0000-0000-0000-000000000001" in text
    assert "categories: + Business" in text and "no change to write" not in text


def test_unchanged_plan_writes_nothing() -> None:
    plan = Plan(operation="unchanged", app_type="androidLobApp", identity="a", display_name="A",
                version="1", file_sha256="0" * 64, app_id="x", upload=False)
    assert plan.writes_nothing and plan.lines()[-1] == "  no change to write"
    plan.metadata.append(FieldChange("publisher", "a", "b"))
    assert not plan.writes_nothing
