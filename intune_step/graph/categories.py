"""Categories by name (docs/protocol.md, "Categories"): resolved against the tenant's list,
linked with $ref.

Names match case-blind, as WinTuner does. A name the tenant does not have is an input error
found while planning, before any write: creating tenant-wide categories is an admin's call.
Categories are only added; the ones an admin set in the portal stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intune_step.errors import BadInputError
from intune_step.graph.client import GraphClient

CATEGORIES = "deviceAppManagement/mobileAppCategories"


@dataclass(frozen=True)
class CategoryPlan:
    add: tuple[tuple[str, str], ...]  # (id, displayName) to link
    have: tuple[str, ...]  # names already linked

    def to_json(self) -> dict[str, Any]:
        return {"add": [name for _, name in self.add], "keep": list(self.have)}


def resolve(graph: GraphClient, names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """casefolded wanted name → (id, the tenant's spelling); unknown names are refused."""
    if not names:
        return {}
    tenant: dict[str, tuple[str, str]] = {}
    for item in graph.get_all(CATEGORIES, what="list the app categories"):
        tenant.setdefault(str(item.get("displayName", "")).strip().casefold(),
                          (str(item["id"]), str(item.get("displayName", ""))))
    missing = [n for n in names if n.casefold() not in tenant]
    if missing:
        known = sorted(name for _, name in tenant.values())
        shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
        raise BadInputError(
            f"categories {', '.join(repr(m) for m in missing)} do not exist in this tenant "
            f"(it has: {shown})",
            fix="use existing names, or create the categories in Intune > Apps > App categories",
        )
    return {n.casefold(): tenant[n.casefold()] for n in names}


def current(graph: GraphClient, app_id: str) -> list[dict[str, Any]]:
    return list(graph.get_all(f"deviceAppManagement/mobileApps/{app_id}/categories",
                              what="read the app's categories"))


def plan(wanted: dict[str, tuple[str, str]], linked: list[dict[str, Any]]) -> CategoryPlan:
    have_ids = {str(c.get("id")) for c in linked}
    add = tuple(pair for pair in wanted.values() if pair[0] not in have_ids)
    return CategoryPlan(add, tuple(str(c.get("displayName", "")) for c in linked))


def link(graph: GraphClient, graph_base: str, app_id: str, category_id: str, name: str) -> None:
    graph.post(f"deviceAppManagement/mobileApps/{app_id}/categories/$ref",
               {"@odata.id": f"{graph_base}/{CATEGORIES}/{category_id}"},
               what=f"add category '{name}'")
