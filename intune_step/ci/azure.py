"""Azure DevOps (Azure Pipelines): INTUNE_* variables in, ##vso logging commands out.

The agent finds ``##vso[`` anywhere in a line of stdout or stderr, splits properties on ``;``
and ends them at the first ``]``, then unescapes properties and data alike
(agent ``Command.TryParse`` / ``CommandStringConvertor.Unescape``): ``%3B`` -> ``;``,
``%0D`` -> CR, ``%0A`` -> LF, ``%5D`` -> ``]``, then ``%AZP25`` -> ``%`` (knob DECODE_PERCENTS,
on by default). We escape exactly that set, ``%`` first.

Output variables are named ``output_<name>``: the agent hands a step named ``intune`` its
outputs as ``$(intune.output_app_id)``, which later steps see in their environment as
``INTUNE_OUTPUT_APP_ID``; a bare ``app_id`` would arrive as ``INTUNE_APP_ID``, the ``app-id``
input of the next intune-step step in the job. Masking commands are written only when an agent
reads them (TF_BUILD): elsewhere a ``task.setsecret`` line would print the secret itself.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from intune_step.ci.base import LineHost, progress_text
from intune_step.ci.env_inputs import intune_candidates, read_env_inputs

VSO_PREFIX = re.compile("##vso", re.IGNORECASE)
OUTPUT_PREFIX = "output_"  # not a bare name: the step name turns it into an INTUNE_* input


def escape_data(value: str) -> str:
    """Message escaping: % first (so our own escapes survive), then CR and LF."""
    return value.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Property values additionally end at ';' and ']'."""
    return escape_data(value).replace(";", "%3B").replace("]", "%5D")


def logging_command(command: str, data: str = "", **properties: str) -> str:
    """``##vso[area.action k=v;k=v;]data`` with every part escaped for the agent."""
    props = ";".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    head = f"{command} {props}" if props else command
    return f"##vso[{head}]{escape_data(data)}"


def output_variable(output_name: str) -> str:
    """`app-id` -> `output_app_id`: variable names take letters, digits, '.' and '_'."""
    return OUTPUT_PREFIX + re.sub(r"[^A-Za-z0-9_.]", "_", output_name)


def on_agent(environ: Mapping[str, str]) -> bool:
    """True inside an Azure Pipelines job, where the agent reads our logging commands."""
    return environ.get("TF_BUILD", "").strip().lower() == "true"


def defuse(text: str) -> str:
    """Plain log text must not be read as a command (the agent's own neutraliser)."""
    text = VSO_PREFIX.sub("**vso", text)
    return " " + text if text.startswith("##[") else text


class AzureDevOpsHost(LineHost):
    name = "azure"
    title = "Azure DevOps"


    def read_inputs(self, names: list[str]) -> dict[str, str | None]:
        # Secret variables are not mapped into env by ADO: the pipeline maps them with `env:`.
        values, self.input_sources = read_env_inputs(self._env, names, intune_candidates)
        return values

    def set_outputs(self, outputs: dict[str, str]) -> None:
        for name, value in outputs.items():
            variable = output_variable(name)
            self._emit(logging_command("task.setvariable", self.scrub(value),
                                       variable=variable, isoutput="true"))
            self.info(f"output {variable}={value}")

    def summary(self, markdown: str) -> None:
        """Write the Markdown to a file and attach it to the run ("Extensions" tab).

        The agent reads the file from its own file system, so it goes to
        Agent.TempDirectory; a `docker run` step mounts that directory at the same path.
        """
        folder = self._env.get("AGENT_TEMPDIRECTORY") or os.getcwd()
        path = Path(folder) / f"intune-step-summary-{secrets.token_hex(6)}.md"
        try:
            path.write_text(self.scrub(markdown), encoding="utf-8")
        except OSError as exc:
            self.warning(f"could not write the summary file {path}: {exc}")
            return
        self._emit(logging_command("task.uploadsummary", str(path.resolve())))

    def info(self, message: str) -> None:
        for line in self.scrub(message).replace("\r", "").split("\n"):
            self._emit(defuse(line))

    def warning(self, message: str) -> None:
        self._emit(logging_command("task.logissue", self.scrub(message), type="warning"))

    def error(self, message: str) -> None:
        self._emit(logging_command("task.logissue", self.scrub(message), type="error"))

    def _register_mask(self, secret: str) -> None:
        # "Previous occurrences will not be masked": this runs before anything prints it.
        # Off an agent nobody consumes the line: it would show the secret (scrub() still works).
        if not on_agent(self._env):
            return
        for line in secret.splitlines():
            if line.strip():
                self._emit(logging_command("task.setsecret", line))

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._emit("##[group]" + defuse(self.scrub(title)).replace("\n", " "))
        try:
            yield
        finally:
            self._emit("##[endgroup]")

    def render_progress(self, label: str, done: int, total: int, elapsed: float) -> None:
        percent = int(100 * done / total) if total else 100
        self._emit(logging_command("task.setprogress", label, value=str(percent)))
        self.info(progress_text(label, done, total, elapsed))
