"""Find action.yml, the single source of the step's input and output names.

Parsing YAML costs a run tens of milliseconds, so the image keeps a JSON copy next to the
packaged action.yml (:func:`freeze`, run by the Dockerfile's compile step). The copy is used
only while it carries the SHA-256 of the action.yml beside it, so an edited action.yml is
never shadowed by a stale copy.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict


class ActionDefinition(TypedDict):
    """The parts of action.yml read here: each input's and output's spec by name."""

    inputs: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]


def action_yml_path() -> Path:
    """The action.yml inside the installed package, else the one at the repository root."""
    packaged = resources.files("intune_step") / "action.yml"
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "action.yml"


def frozen_path(source: Path) -> Path:
    return source.with_name("action.json")


@cache
def action_definition() -> ActionDefinition:
    source = action_yml_path()
    raw = source.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        frozen = json.loads(frozen_path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        frozen = None
    if isinstance(frozen, dict) and frozen.get("sha256") == digest:
        definition: ActionDefinition = frozen["definition"]
        return definition
    return _parse(raw)


def _parse(raw: bytes) -> ActionDefinition:
    import yaml  # only without a current frozen copy (a source checkout)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
    definition: ActionDefinition = yaml.load(raw, Loader=loader)  # a safe loader either way
    return definition


def freeze() -> Path:
    """Write the JSON copy next to action.yml (the image build does this once)."""
    source = action_yml_path()
    raw = source.read_bytes()
    target = frozen_path(source)
    body = {"sha256": hashlib.sha256(raw).hexdigest(), "definition": _parse(raw)}
    target.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return target


def input_names() -> list[str]:
    return list(action_definition()["inputs"])


def output_names() -> list[str]:
    return list(action_definition()["outputs"])
