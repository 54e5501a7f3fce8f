"""Run a composite action's steps on this machine as the GitHub runner runs them.

What the runner does for a composite action (actions/runner: CompositeActionHandler,
ScriptHandler, FileCommandManager), and so what this does:

- each step's ``env`` and ``run`` have their ``${{ }}`` expressions evaluated, with
  ``inputs.*`` (an input not given is its declared default) and ``steps.<id>.outputs.*``;
  any other expression is an error here, so the action cannot use what this does not check;
- a ``run`` step's script goes to a file run as ``bash --noprofile --norc -eo pipefail
  {0}`` (the ``shell: bash`` template), in GITHUB_WORKSPACE, with the job's environment plus
  GITHUB_ACTION_PATH (the action's folder), RUNNER_TEMP, and a new GITHUB_OUTPUT and
  GITHUB_STEP_SUMMARY file for every step; GITHUB_OUTPUT is read back into the step's outputs;
- a step that exits non-zero ends the action with that status;
- the action's outputs are its ``outputs.*.value`` expressions, evaluated after the steps.

A ``uses:`` step is not run: the caller stands in for it with the outputs it would have set
(here, actions/setup-python's ``python-path``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .runner_files import parse_github_output

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


@dataclass
class StepRun:
    id: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: bytes
    output_file: bytes


@dataclass
class CompositeRun:
    returncode: int
    outputs: dict[str, str]  # the action's outputs, as the calling workflow sees them
    steps: list[StepRun] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "".join(step.stdout for step in self.steps)

    @property
    def stderr(self) -> str:
        return "".join(step.stderr for step in self.steps)


def evaluate(text: str, inputs: Mapping[str, str], steps: Mapping[str, dict[str, str]]) -> str:
    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        parts = expression.split(".")
        if len(parts) == 2 and parts[0] == "inputs":
            return inputs[parts[1]]
        if len(parts) == 4 and parts[0] == "steps" and parts[2] == "outputs":
            return steps.get(parts[1], {}).get(parts[3], "")
        raise ValueError(f"expression not supported by this runner stand-in: {expression}")

    return EXPRESSION.sub(value, text)


def run_composite(
    action_dir: Path,
    given: Mapping[str, str],
    env: Mapping[str, str],
    workspace: Path,
    runner_temp: Path,
    uses_outputs: Mapping[str, dict[str, str]],
    started: Callable[[str, subprocess.Popen[str]], None] | None = None,
) -> CompositeRun:
    """Run ``action_dir/action.yml`` with inputs ``given``; ``uses_outputs``: step id ->
    the outputs of a ``uses:`` step that is stood in for; ``started(step id, process)`` is
    called as each step's process starts (to cancel it as the runner does: a signal to that
    process alone, not to its group)."""
    action: dict[str, Any] = yaml.safe_load((action_dir / "action.yml").read_text("utf-8"))
    assert action["runs"]["using"] == "composite"
    unknown = set(given) - set(action["inputs"])
    assert not unknown, f"inputs the action does not declare: {unknown}"
    inputs = {
        name: given.get(name, str(spec.get("default", "")))
        for name, spec in action["inputs"].items()
    }
    outputs: dict[str, dict[str, str]] = {}
    result = CompositeRun(0, {})
    files = runner_temp / "_runner_file_commands"
    files.mkdir(parents=True, exist_ok=True)
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"__step{index}")
        if "uses" in step:
            outputs[step_id] = dict(uses_outputs[step_id])
            continue
        assert step["shell"] == "bash", "only shell: bash is run here"
        output, summary = files / f"set_output_{index}", files / f"step_summary_{index}"
        script = runner_temp / f"step_{index}.sh"
        output.write_bytes(b"")
        summary.write_bytes(b"")
        script.write_text(evaluate(step["run"], inputs, outputs), encoding="utf-8")
        step_env = {
            **env,
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": str(action_dir),
            "RUNNER_TEMP": str(runner_temp),
            "RUNNER_OS": "Linux",
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
        }
        for key, value in (step.get("env") or {}).items():
            step_env[key] = evaluate(str(value), inputs, outputs)
        with subprocess.Popen(
            [*BASH, str(script)],
            cwd=workspace,
            env=step_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as proc:
            if started is not None:
                started(step_id, proc)
            stdout, stderr = proc.communicate(timeout=600)
        outputs[step_id] = parse_github_output(output)
        result.steps.append(
            StepRun(
                step_id,
                proc.returncode,
                stdout,
                stderr,
                outputs[step_id],
                summary.read_bytes(),
                output.read_bytes(),
            )
        )
        if proc.returncode != 0:
            result.returncode = proc.returncode
            return result
    result.outputs = {
        name: evaluate(spec["value"], inputs, outputs) for name, spec in action["outputs"].items()
    }
    return result
