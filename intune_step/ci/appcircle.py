"""Appcircle workflow steps: AC_* inputs, outputs appended to $AC_ENV_FILE_PATH, @@[error] lines.

Appcircle runs steps directly on the runner (no container) and has no run-time masking, so
secrets are only ever scrubbed from what we print and never written to the env file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from intune_step.ci.base import LineHost
from intune_step.ci.env_file import append_env_file, env_pairs
from intune_step.ci.env_inputs import intune_env_name, read_env_inputs

INPUT_PREFIX = "AC_INTUNE_"
OUTPUT_PREFIX = "AC_INTUNE_OUTPUT_"  # AC_INTUNE_APP_ID is an input: keep outputs apart
SUMMARY_FILE = "intune-step-summary.md"
# Appcircle's own names: the variables its "Send to Microsoft Intune" publish step reads from
# the Microsoft Intune credential of a Publish profile, and that step's publisher input.
ALIASES: dict[str, tuple[str, ...]] = {
    "client-id": ("AC_CREDENTIAL_INTUNE_CLIENT_ID",),
    "client-secret": ("AC_CREDENTIAL_INTUNE_CLIENT_SECRET",),
    "auth-url": ("AC_CREDENTIAL_INTUNE_CLIENT_AUTH_URL",),
    "publisher": ("AC_INTUNE_PUBLISHER_NAME",),
}
# Any of these names a credential; with none, say where Appcircle's credential is available.
CREDENTIAL_INPUTS = ("client-secret", "certificate", "certificate-file", "federated-token-env",
                     "federated-token-file", "service-connection-id")
NO_CREDENTIAL = (
    "no Intune credential was found. Appcircle provides its Microsoft Intune credential "
    "(AC_CREDENTIAL_INTUNE_CLIENT_ID, _CLIENT_SECRET, _CLIENT_AUTH_URL) in a Publish profile's "
    "flow once the credential is selected in its Publishing Settings; in a build workflow, add "
    "INTUNE_CLIENT_ID, INTUNE_AUTH_URL and a secret INTUNE_CLIENT_SECRET to an Environment "
    "Variable group of the workflow")
REFERENCE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
YELLOW, BLUE, RESET = "\x1b[33m", "\x1b[34m", "\x1b[0m"


def appcircle_input_name(input_name: str) -> str:
    """`client-id` -> `AC_INTUNE_CLIENT_ID` (Appcircle's AC_<AREA>_<NAME> convention)."""
    return INPUT_PREFIX + input_name.replace("-", "_").upper()


def candidates(input_name: str) -> list[str]:
    """Step input first, then Appcircle's credential variables, then the CI-neutral name."""
    return [appcircle_input_name(input_name), *ALIASES.get(input_name, ()),
            intune_env_name(input_name)]


def defuse(text: str) -> str:
    return " " + text if text.startswith("@@[") else text


class AppcircleHost(LineHost):
    name = "appcircle"
    title = "Appcircle"


    def workspace(self) -> Path:
        return Path(self._env.get("AC_REPOSITORY_DIR") or super().workspace())

    def _resolve(self, raw: str) -> str | None:
        """A step default such as "$AC_CREDENTIAL_INTUNE_CLIENT_ID" that reached us unexpanded
        (an undocumented corner of Appcircle) is read as the reference it is."""
        match = REFERENCE.match(raw.strip())
        return self._env.get(match.group(1)) if match else raw

    def read_inputs(self, names: list[str]) -> dict[str, str | None]:
        values, self.input_sources = read_env_inputs(self._env, names, candidates,
                                                     resolve=self._resolve)
        # Appcircle's UI does not show a step's helpText: the hint is said here, in the log.
        if not any(values.get(name) for name in CREDENTIAL_INPUTS):
            self.warning(NO_CREDENTIAL)
        return values

    def set_outputs(self, outputs: dict[str, str]) -> None:
        pairs = env_pairs(outputs, OUTPUT_PREFIX, self.scrub, self.warning)
        target = self._env.get("AC_ENV_FILE_PATH", "").strip()
        if not target:
            self.warning("AC_ENV_FILE_PATH is not set; later steps will not see the outputs")
        else:
            append_env_file(Path(target), pairs)
        for key, value in pairs.items():
            self.info(f"{key}={value}")

    def summary(self, markdown: str) -> None:
        # Files in AC_OUTPUT_DIR become the build's downloadable artifacts.
        folder = self._env.get("AC_OUTPUT_DIR", "").strip()
        if not folder:
            return
        try:
            path = Path(folder) / SUMMARY_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(self.scrub(markdown) + "\n")
        except OSError as exc:
            self.warning(f"could not write {SUMMARY_FILE}: {exc}")

    def info(self, message: str) -> None:
        for line in self.scrub(message).replace("\r", "").split("\n"):
            self._emit(defuse(line))

    def warning(self, message: str) -> None:
        # Appcircle's colour code: yellow for warnings (no documented warning marker).
        for line in self.scrub(message).replace("\r", "").split("\n"):
            self._emit(f"{YELLOW}Warning: {line}{RESET}")

    def error(self, message: str) -> None:
        # "@@[error] " at the start of a line is what Appcircle shows as an error.
        lines = self.scrub(message).replace("\r", "").split("\n")
        self._emit(f"@@[error] {lines[0]}")
        for line in lines[1:]:
            self._emit(defuse(f"  {line}"))

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._emit(f"{BLUE}{defuse(self.scrub(title))}{RESET}")
        yield
