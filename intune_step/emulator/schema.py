"""Graph's data model, per API version, as Microsoft's generated SDK models state it.

``graph_models.json`` is written by ``scripts/graph-models`` from the ``msgraph-sdk`` (v1.0)
and ``msgraph-beta-sdk`` (beta) model classes; the SDK versions are recorded in it. This module
answers what a type is, which properties it has (own and inherited), which are read-only, and
judges a request body against it the way Graph's OData reader does (docs/protocol.md,
"Request bodies"): a property the type does not define, a value of the wrong JSON kind, an
``@odata.type`` that does not name a type of this version, or a derived type that is not one
of the expected type, is refused before Intune looks at the meaning.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
import uuid
from importlib import resources
from typing import Any

from .graph_common import HttpError

NAMESPACE = "microsoft.graph."
# The namespace Intune's service names its types by in its own errors.
# See docs/protocol.md, "Request bodies".
SERVICE_NAMESPACE = "microsoft.management.services.api."
# Properties Microsoft's docs list that the SDK models do not carry: the content file's
# 64-bit size names ("Content file and manifest").
DOCUMENTED_EXTRAS: dict[str, dict[str, str]] = {
    "mobileAppContentFile": {"sizeInBytes": "Int", "sizeEncryptedInBytes": "Int"},
}


@functools.cache
def _data() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("graph_models.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def sdk_versions() -> dict[str, str]:
    """``{"v1.0": "msgraph-sdk==…", "beta": "msgraph-beta-sdk==…"}``."""
    return dict(_data()["sdk"])


class Model:
    """The types and enums of one API version."""

    def __init__(self, version: str) -> None:
        part = _data()[version]
        self.version = version
        self.types: dict[str, dict[str, Any]] = part["types"]
        self.enums: dict[str, list[str]] = part["enums"]
        self.actions: dict[str, dict[str, str]] = part["actions"]
        self._by_lower = {name.lower(): name for name in self.types}

    def has_type(self, name: str) -> bool:
        return name in self.types

    def ancestry(self, name: str) -> list[str]:
        chain = []
        current: str | None = name
        while current is not None:
            chain.append(current)
            current = self.types[current].get("base")
        return chain

    def is_a(self, name: str, base: str) -> bool:
        return name in self.types and base in self.ancestry(name)

    def properties(self, name: str) -> dict[str, str]:
        props: dict[str, str] = {}
        for each in reversed(self.ancestry(name)):
            props.update(self.types[each]["properties"])
            props.update(DOCUMENTED_EXTRAS.get(each, {}))
        return props

    def read_only(self, name: str) -> set[str]:
        names: set[str] = set()
        for each in self.ancestry(name):
            names.update(self.types[each].get("readOnly", ()))
        return names

    def structural(self, name: str) -> list[str]:
        """The properties a GET returns: everything but navigation properties."""
        return [p for p, kind in self.properties(name).items() if not kind.startswith("nav:")]

    def payload_type(self, raw: Any) -> str | None:
        """The type an ``@odata.type`` value names: ``#microsoft.graph.X`` (the ``#`` is
        optional) with the namespace, in any case, as Microsoft's own samples send
        ``iosLOBApp`` (docs/protocol.md, "Requests and responses"). None: no such type."""
        if not isinstance(raw, str):
            return None
        name = raw.removeprefix("#").lower()
        if not name.startswith(NAMESPACE):
            return None
        return self._by_lower.get(name[len(NAMESPACE) :])

    # --- judging a body ------------------------------------------------------------------

    def check(self, type_name: str, body: dict[str, Any]) -> None:
        """Raise the HttpError Graph answers for ``body`` read as ``type_name``."""
        props = self.properties(type_name)
        for key, value in body.items():
            if key.startswith("@") or "@" in key:
                continue  # instance annotations (@odata.type, name@odata.bind)
            kind = props.get(key)
            if kind is None:
                raise unknown_property(key, type_name)
            self._value(key, kind, value)

    def check_typed(self, type_name: str, body: dict[str, Any]) -> None:
        """Judge a body whose ``@odata.type``, when sent, must name ``type_name`` or a type
        derived from it."""
        actual = type_name
        if "@odata.type" in body:
            named = self.payload_type(body["@odata.type"])
            if named is None:
                raise unresolved_type(body["@odata.type"])
            if not self.is_a(named, type_name):
                raise HttpError(
                    400,
                    "BadRequest",
                    f"The type '{NAMESPACE}{named}' is not assignable to the expected type "
                    f"'{NAMESPACE}{type_name}'.",
                    nested=False,
                )
            actual = named
        self.check(actual, body)

    def check_action(self, action: str, body: dict[str, Any]) -> None:
        """Judge an action's parameters (``commit``): an unknown one is refused."""
        params = self.actions[action]
        for key, value in body.items():
            if key.startswith("@"):
                continue
            if key not in params:
                raise HttpError(
                    400,
                    "BadRequest",
                    f"The parameter '{key}' in the request payload is not a valid parameter "
                    f"for the operation '{action}'.",
                    nested=False,
                )
            self._value(key, params[key], value)

    def _value(self, key: str, kind: str, value: Any) -> None:
        if value is None or kind.startswith("nav:"):
            return  # null is Graph's "unset"; navigation properties are not read here
        if kind.endswith("[]"):
            if not isinstance(value, list):
                raise _node(key, value, "StartArray")
            for item in value:
                self._value(key, kind[:-2], item)
            return
        if kind.startswith("flags:"):
            members = self.enums[kind[6:]]
            parts = value.split(",") if isinstance(value, str) else [None]
            if any(_enum_member(p, members) is None for p in parts):
                raise _literal(key, value, f"{NAMESPACE}{kind[6:]}")
            return
        if kind in self.enums:
            if _enum_member(value, self.enums[kind]) is None:
                raise _literal(key, value, f"{NAMESPACE}{kind}")
            return
        if kind in self.types:
            if not isinstance(value, dict):
                raise _node(key, value, "StartObject")
            actual = kind
            if "@odata.type" in value:
                named = self.payload_type(value["@odata.type"])
                if named is None:
                    raise unresolved_type(value["@odata.type"])
                if not self.is_a(named, kind):
                    raise HttpError(
                        400,
                        "BadRequest",
                        f"The type '{NAMESPACE}{named}' is not assignable to the expected "
                        f"type '{NAMESPACE}{kind}' of the property '{key}'.",
                        nested=False,
                    )
                actual = named
            self.check(actual, value)
            return
        if not _primitive_ok(kind, value):
            raise _literal(key, value, f"Edm.{_EDM.get(kind, kind)}")


_EDM = {"Int": "Int64"}


def _enum_member(value: Any, members: list[str]) -> str | None:
    # Intune matches enum members without regard to case (docs/protocol.md, "Win32 apps").
    if not isinstance(value, str):
        return None
    wanted = value.strip().lower()
    return next((m for m in members if m.lower() == wanted), None)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")


def _primitive_ok(kind: str, value: Any) -> bool:
    if kind == "String":
        return isinstance(value, str)
    if kind == "Boolean":
        return isinstance(value, bool)
    if kind == "Int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "Double":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if kind == "DateTimeOffset":
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if kind == "Binary":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    if kind == "Guid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    if kind == "Date":
        return bool(_DATE.match(value))
    return True  # TimeOfDay, Duration: not used by any body the emulator reads


def unknown_property(name: str, type_name: str) -> HttpError:
    """Intune's answer for a property its type does not define (docs/protocol.md, "Request
    bodies")."""
    return HttpError(
        400,
        "ModelValidationFailure",
        f"The property '{name}' does not exist on type '{SERVICE_NAMESPACE}{type_name}'. "
        "Make sure to only use property names that are defined by the type.",
        nested=False,
    )


def unresolved_type(raw: Any) -> HttpError:
    name = str(raw).removeprefix("#")
    return HttpError(
        400,
        "BadRequest",
        f"A type named '{name}' could not be resolved by the model. When a model is "
        "available, each type name must resolve to a valid type.",
        nested=False,
    )


def _literal(key: str, value: Any, type_name: str) -> HttpError:
    return HttpError(
        400,
        "BadRequest",
        f"Cannot convert the literal '{value}' of the property '{key}' to the expected type "
        f"'{type_name}'.",
        nested=False,
    )


def _node(key: str, value: Any, expected: str) -> HttpError:
    found = "StartObject" if isinstance(value, dict) else "PrimitiveValue"
    if isinstance(value, list):
        found = "StartArray"
    return HttpError(
        400,
        "BadRequest",
        f"An unexpected '{found}' node was found for property named '{key}' when reading "
        f"from the JSON reader. A '{expected}' node was expected.",
        nested=False,
    )


@functools.cache
def model(version: str) -> Model:
    return Model(version)
