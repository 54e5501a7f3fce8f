"""The service's timing: each asynchronous state completes after a delay drawn from a
distribution, and the emulator records how late the client noticed.

Without it (``EmulatorConfig.timing`` None) a pending state lasts a number of reads, which
makes tests deterministic. With it, a state is pending until its moment has come, whoever reads
it, as on the live service where the upload URL, the commit and the publishing take seconds
(docs/protocol.md, "Upload sequence"). *Lateness* is the time from that moment (for a commit,
the later of it and the end of the emulator's own check of the blob) to the first read that
shows the new state: what a client's poll schedule costs.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["fixed", "uniform", "lognormal"]
STATES = ("upload_uri", "commit", "publish", "renew")


@dataclass(frozen=True)
class Delay:
    """Seconds until a state completes: ``fixed`` a; ``uniform`` between a and b;
    ``lognormal`` with median a and shape b (sigma of the log), cut at 20 times the median."""

    kind: Kind = "fixed"
    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "uniform", "lognormal"):
            raise ValueError(f"a delay is fixed, uniform or lognormal, not {self.kind!r}")
        if self.a < 0 or self.b < 0 or (self.kind == "uniform" and self.b < self.a):
            raise ValueError(f"bad {self.kind} delay ({self.a}, {self.b})")

    def draw(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.a == 0:
            return 0.0
        return min(self.a * math.exp(rng.gauss(0.0, self.b)), 20 * self.a)

    @classmethod
    def parse(cls, text: str) -> Delay:
        """``2`` (fixed), ``uniform:1,3`` or ``lognormal:2,0.6``."""
        kind, _, numbers = text.partition(":")
        if not numbers:
            return cls("fixed", float(kind))
        values = [float(n) for n in numbers.split(",")]
        if kind not in ("uniform", "lognormal") or len(values) != 2:
            raise ValueError(f"not a delay: {text!r} (e.g. 2, uniform:1,3, lognormal:2,0.6)")
        return cls(kind, values[0], values[1])  # type: ignore[arg-type]  # checked above


@dataclass(frozen=True)
class StateTiming:
    """How long each state takes. ``seed`` makes a run's delays repeatable."""

    upload_uri: Delay = Delay()
    commit: Delay = Delay()
    publish: Delay = Delay()
    renew: Delay = Delay()
    seed: int | None = 0

    @classmethod
    def at_once(cls) -> StateTiming:
        """Every state is done by the first read after the request that starts it."""
        return cls()

    @classmethod
    def realistic(cls, seed: int | None = 0) -> StateTiming:
        """Seconds, skewed long, as the live service takes them: an upload URL in about 2 s,
        a (small) commit in about 3 s, publishing in about 2.5 s, a renewal in about 1.5 s.
        Medians from what other clients' poll loops are built around; see docs/performance.md."""
        return cls(
            upload_uri=Delay("lognormal", 2.0, 0.5),
            commit=Delay("lognormal", 3.0, 0.5),
            publish=Delay("lognormal", 2.5, 0.5),
            renew=Delay("lognormal", 1.5, 0.5),
            seed=seed,
        )

    @classmethod
    def parse(cls, text: str) -> StateTiming:
        """``at-once``, ``realistic`` or ``commit=lognormal:3,0.5,publish=2,...`` (a
        comma-separated list where each state starts a new item)."""
        if text in ("at-once", "realistic"):
            return cls.at_once() if text == "at-once" else cls.realistic()
        chosen = {name: Delay() for name in STATES}
        for item in _items(text):
            name, _, spec = item.partition("=")
            if name not in STATES:
                raise ValueError(f"unknown state {name!r}: one of {', '.join(STATES)}")
            chosen[name] = Delay.parse(spec)
        return cls(chosen["upload_uri"], chosen["commit"], chosen["publish"], chosen["renew"])


def _items(text: str) -> list[str]:
    """Split ``a=x:1,2,b=3`` at the commas that start a new ``name=``."""
    items: list[str] = []
    for part in text.split(","):
        if "=" in part or not items:
            items.append(part)
        else:
            items[-1] += "," + part
    return items


@dataclass(frozen=True)
class Lateness:
    """One state, how long it took, and how long after it completed the client saw it."""

    state: str
    delay: float
    late: float


@dataclass
class Clock:
    """Draws the delays and records lateness; shared by every listener's threads."""

    timing: StateTiming
    _rng: random.Random = field(init=False)
    _records: list[Lateness] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.timing.seed)

    def due(self, state: str) -> tuple[float, float]:
        """(the moment ``state``, started now, completes; its delay)."""
        delay: Delay = getattr(self.timing, state)
        with self._lock:
            seconds = delay.draw(self._rng)
        return time.monotonic() + seconds, seconds

    def seen(self, state: str, completed_at: float, delay: float) -> None:
        late = max(0.0, time.monotonic() - completed_at)
        with self._lock:
            self._records.append(Lateness(state, delay, late))

    def records(self) -> list[Lateness]:
        with self._lock:
            return list(self._records)
