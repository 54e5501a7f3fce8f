"""The operations knobs: every ``INTUNE_*`` tuning variable, read once and validated one way.

The composition root calls :meth:`Tuning.from_environ` once; everything below receives the
frozen result (or the policy built from it) through its constructor. A bad value stops the
run with exit 2 and the knob's name. These are for operators and tests; the step's inputs
(action.yml) are what a pipeline sets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from intune_step.errors import SettingsError


@dataclass(frozen=True)
class Knob:
    """One environment variable: the Tuning field it sets, its kind and its documentation."""

    variable: str
    field: str
    kind: str  # seconds | count | bytes | flag | path | hosts
    default: str  # for people: what applies when the variable is unset
    meaning: str


KNOBS = (
    Knob("INTUNE_BLOCKS_IN_FLIGHT", "blocks_in_flight", "count", "12",
         "blocks of one upload sent at the same time (not `max-parallel`, which counts "
         "artifacts)"),
    Knob("INTUNE_BLOCK_SIZE", "block_size", "bytes", "1 to 6 MiB by file size",
         "bytes per upload block, rounded up to a multiple of 16"),
    Knob("INTUNE_RETRY_BASE_DELAY", "retry_base_delay", "seconds", "1",
         "the first backoff delay of every retry (doubling per attempt); a Retry-After wins"),
    Knob("INTUNE_REQUEST_DEADLINE", "request_deadline", "seconds", "120",
         "the longest one request to Entra, Graph or Blob may wait for answers, its retries "
         "included (a stalled call then fails, naming it)"),
    Knob("INTUNE_POLL_INTERVAL", "poll_interval", "seconds", "tuned per state",
         "polls every Intune state at this interval, doubling up to 20 times it, instead of "
         "the tuned schedules (docs/performance.md)"),
    Knob("INTUNE_WAIT_TIMEOUT", "wait_timeout", "seconds", "600",
         "the longest any one wait for an Intune state may last (otherwise a large commit "
         "gets more, a renewal 300)"),
    Knob("INTUNE_LOCK_STALE_S", "lock_stale", "seconds", "300",
         "when a lock whose holder stopped renewing it counts as dead"),
    Knob("INTUNE_LOCK_HEARTBEAT_S", "lock_heartbeat", "seconds", "60",
         "how often the holder renews its lock"),
    Knob("INTUNE_LOCK_SETTLE_S", "lock_settle", "seconds", "2",
         "how long after creating an app (or writing its lock) the check of which run wins "
         "is made; it overlaps the upload"),
    Knob("INTUNE_LOCK_POLL_S", "lock_poll", "seconds", "5",
         "how often a waiting run looks whether the lock is free"),
    Knob("INTUNE_GATE_POLL_S", "gate_poll", "seconds", "30",
         "how often the install gate asks Intune for a fresh install report (one log line each)"),
    Knob("INTUNE_REPORT_POLL_S", "report_poll", "seconds", "2",
         "how often one report export job is polled until it completes"),
    Knob("INTUNE_STEP_DEBUG", "debug", "flag", "off",
         "any non-empty value: a bug in the step shows its traceback"),
    Knob("INTUNE_STEP_ALLOWED_HOSTS", "allowed_hosts", "hosts", "none",
         "hosts other than Microsoft's Entra and Graph hosts that a settings file may send the "
         "credential to (comma-separated, e.g. a test emulator's 127.0.0.1)"),
    Knob("SSL_CERT_FILE", "ca_file", "path", "the OS trust store",
         "the CA bundle to trust for Entra, Graph and Blob (a proxy, the emulator)"),
    Knob("SSL_CERT_DIR", "ca_dir", "path", "the OS trust store",
         "a directory of CA certificates to trust, as OpenSSL reads it"),
)


@dataclass(frozen=True)
class PollSchedule:
    """When to read a pending state again: a few fast reads (most states are done within a
    second or two), then a steady interval for ``steady_for`` seconds, then backing off by
    ``backoff`` per read up to ``max_interval``. Mean lateness in the steady phase is about
    half of ``steady`` plus one request."""

    fast: tuple[float, ...] = ()
    steady: float = 0.5
    steady_for: float = 0.0
    backoff: float = 2.0
    max_interval: float = 10.0

    def delays(self) -> Iterator[float]:
        """The pause before each next read, forever (the caller bounds the wait)."""
        waited = 0.0
        for delay in self.fast:
            waited += delay
            yield delay
        interval = min(self.steady, self.max_interval)
        if waited < self.steady_for:
            while waited < self.steady_for:
                waited += interval
                yield interval
            interval = min(interval * self.backoff, self.max_interval)
        while True:
            yield interval
            interval = min(interval * self.backoff, self.max_interval)


def _state(steady_for: float) -> PollSchedule:
    return PollSchedule(fast=(0.05, 0.1, 0.2), steady=0.5, steady_for=steady_for,
                        backoff=1.5, max_interval=10.0)


@dataclass(frozen=True)
class WaitSchedules:
    """The poll schedule of every wait, in one place (docs/performance.md, "Waits").

    The upload URL, the commit and the publishing state usually take a second to a few
    seconds on the service; a large commit takes longer, so its steady phase is longer. The
    400 after a large commit lasts minutes, so it is retried on a plain doubling schedule."""

    upload_url: PollSchedule = field(default_factory=lambda: _state(30.0))
    commit: PollSchedule = field(default_factory=lambda: _state(60.0))
    publish: PollSchedule = field(default_factory=lambda: _state(30.0))
    renewal: PollSchedule = field(default_factory=lambda: _state(30.0))
    cooldown: PollSchedule = field(default_factory=lambda: PollSchedule(steady=0.5))

    @classmethod
    def uniform(cls, first: float, max_interval: float) -> WaitSchedules:
        """Every wait doubling from ``first`` to ``max_interval`` (INTUNE_POLL_INTERVAL)."""
        plain = PollSchedule(steady=first, max_interval=max_interval)
        return cls(plain, plain, plain, plain, plain)


# Old names that still work, with a warning: INTUNE_PARALLEL read like max-parallel.
DEPRECATED = {"INTUNE_PARALLEL": "INTUNE_BLOCKS_IN_FLIGHT"}


@dataclass(frozen=True)
class Tuning:
    """Every knob's value; None where the variable is unset and the layer's default applies."""

    blocks_in_flight: int | None = None
    block_size: int | None = None
    retry_base_delay: float | None = None
    request_deadline: float | None = None
    poll_interval: float | None = None
    wait_timeout: float | None = None
    lock_stale: float | None = None
    lock_heartbeat: float | None = None
    lock_settle: float | None = None
    lock_poll: float | None = None
    gate_poll: float | None = None
    report_poll: float | None = None
    debug: bool = False
    allowed_hosts: tuple[str, ...] = ()
    ca_file: Path | None = None
    ca_dir: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str],
                     warn: Callable[[str], None] | None = None) -> Tuning:
        """Read every knob from ``environ``; a bad value is a SettingsError naming it."""
        values: dict[str, object] = {}
        for knob in KNOBS:
            text = environ.get(knob.variable, "").strip()
            old = next((o for o, new in DEPRECATED.items() if new == knob.variable), None)
            if not text and old and environ.get(old, "").strip():
                text = environ[old].strip()
                if warn is not None:
                    warn(f"{old} is deprecated: it is now {knob.variable} (blocks in flight, "
                         "not artifacts at once)")
                values[knob.field] = _parse(knob, text, shown_as=old)
            elif text:
                values[knob.field] = _parse(knob, text, shown_as=knob.variable)
        return cls(**values)  # type: ignore[arg-type]  # each value parsed for its field's kind

    def wait_schedules(self) -> WaitSchedules:
        """The tuned schedules, or INTUNE_POLL_INTERVAL's plain doubling one."""
        if self.poll_interval is None:
            return WaitSchedules()
        return WaitSchedules.uniform(self.poll_interval, self.poll_interval * 20)


def _parse(knob: Knob, text: str, shown_as: str) -> object:
    if knob.kind == "flag":
        return True
    if knob.kind == "path":
        return Path(text)
    if knob.kind == "hosts":
        return tuple(host.strip().lower() for host in text.split(",") if host.strip())
    if knob.kind in ("count", "bytes"):
        if not text.isdigit() or int(text) < 1:
            example = "12" if knob.kind == "count" else "4194304"
            raise SettingsError(f"{shown_as} must be a whole number above 0, not {text!r}",
                                fix=f"unset {shown_as}, or set it to e.g. {example}")
        return int(text)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise SettingsError(f"{shown_as} must be a number of seconds, not {text!r}",
                            fix=f"unset {shown_as}, or set it to e.g. 0.5")
    return value
