"""Writing to an existing app: a PATCH that keeps what Graph would otherwise drop."""

from __future__ import annotations

from typing import Any

from intune_step.graph.client import GraphClient
from intune_step.graph.lookup import APPS


def patch_app(graph: GraphClient, app: dict[str, Any], body: dict[str, Any], what: str,
              icon: Any = None) -> None:
    """PATCH with the app's own type, re-sending its icon: a PATCH without largeIcon has
    been seen to drop it (docs/protocol.md, "PATCH drops largeIcon"). ``icon`` is the app's
    largeIcon when the caller knows it better than ``app`` does (a read without it)."""
    full = {"@odata.type": app.get("@odata.type"), **body}
    icon = icon or app.get("largeIcon")
    if "largeIcon" not in full and isinstance(icon, dict) and icon.get("value"):
        full["largeIcon"] = {k: icon[k] for k in ("@odata.type", "type", "value") if k in icon}
    graph.patch(f"{APPS}/{app['id']}", full, what=what)
