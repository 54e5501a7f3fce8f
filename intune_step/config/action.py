"""Find action.yml, the single source of the step's input and output names."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

import yaml


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


@cache
def action_definition() -> ActionDefinition:
    with action_yml_path().open(encoding="utf-8") as handle:
        definition: ActionDefinition = yaml.safe_load(handle)
    return definition


def input_names() -> list[str]:
    return list(action_definition()["inputs"])


def output_names() -> list[str]:
    return list(action_definition()["outputs"])
