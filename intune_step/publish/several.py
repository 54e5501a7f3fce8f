"""Every artifact of a run: one path is a list of one; several publish a few at a time.

Every file has been read before this runs (bad input stops the run before any write). The
publishes share one sign-in, one Graph client (each call honours Graph's Retry-After) and one
block uploader, whose buffer pool keeps memory at one upload's budget however many go up at
once. A file that fails does not stop the others: each ends in an :class:`Outcome`, a result
or the error, and the command layer turns the outcomes into outputs, a summary and the exit
code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from intune_step.artifacts.base import AppMetadata
from intune_step.config.options import PublishOptions
from intune_step.config.paths import shown
from intune_step.errors import EXIT_BUG, BadInputError, IntuneStepError
from intune_step.publish.gate import GateStatus
from intune_step.publish.result import PublishResult
from intune_step.report import PrefixedReporter, Reporter

SINGLE_ONLY = (("app-id", "app_id"), ("bundle-id", "bundle_id"),
               ("bundle-version", "bundle_version"))
T = TypeVar("T")
PublishOne = Callable[[AppMetadata, PublishOptions, Reporter], PublishResult]


@dataclass
class Outcome:
    """One artifact's end: the result, or the error that stopped it."""

    file: str  # as the user sees it: relative to the workspace when under it
    meta: AppMetadata
    result: PublishResult | None = None
    error: Exception | None = None
    gate: GateStatus | None = None  # the install gate's counts, when it ran

    @property
    def exit_code(self) -> int:
        if self.error is None:
            return 0
        return self.error.exit_code if isinstance(self.error, IntuneStepError) else EXIT_BUG


def check_several(metas: Sequence[AppMetadata], options: PublishOptions) -> None:
    """Refuse what only makes sense for one artifact, before any network call."""
    for name, attr in SINGLE_ONLY:
        if getattr(options, attr):
            raise BadInputError(f"{name} names one app, but file matches {len(metas)} artifacts",
                                fix=f"publish that artifact on its own step, or drop {name}")
    seen: dict[tuple[str, str], str] = {}
    for meta in metas:
        key = (meta.app_type, meta.identity)
        if key in seen:
            raise BadInputError(
                f"{seen[key]} and {meta.file_name} are the same app ({meta.app_type} "
                f"{meta.identity}); one run publishes one version of an app",
                fix="narrow `file` to the one build to publish")
        seen[key] = meta.file_name


class _Prefixed(PrefixedReporter):
    """A file's own reporter: its lines carry the file name; its progress joins the total."""

    def __init__(self, host: Reporter, lock: threading.Lock, prefix: str,
                 progress: _TotalProgress) -> None:
        super().__init__(host, lock, prefix)
        self._file, self._progress = prefix, progress

    def progress(self, label: str, done: int, total: int) -> None:
        self._progress.update(self._file, done)


class _TotalProgress:
    """One progress line for all uploads: bytes sent over the bytes of every artifact."""

    def __init__(self, host: Reporter, lock: threading.Lock, sizes: dict[str, int]) -> None:
        self._host, self._lock, self._sizes = host, lock, sizes
        self._done = dict.fromkeys(sizes, 0)
        self.label = f"{len(sizes)} artifacts"

    def update(self, name: str, done: int) -> None:
        with self._lock:
            self._done[name] = min(done, self._sizes[name])
            self._host.progress(self.label, sum(self._done.values()), sum(self._sizes.values()))

    def finish(self, name: str) -> None:
        """A file that is done (or skipped its upload) counts as fully sent."""
        self.update(name, self._sizes[name])


def publish_all(
    metas: Sequence[AppMetadata],
    options: PublishOptions,
    reporter: Reporter,
    publish_one: PublishOne,
    workspace: Path | None = None,
    on_cancel: Callable[[], None] | None = None,
    raise_bugs: bool = False,
) -> list[Outcome]:
    """Publish each artifact, at most ``options.max_parallel`` at a time; one Outcome each.

    ``raise_bugs``: let an exception that is not an IntuneStepError out (for its traceback)
    instead of recording it.
    """
    outcomes = [Outcome(shown(meta.content.path, workspace), meta) for meta in metas]
    if not options.several:  # one path: its own lines, in this thread (a SIGTERM lands here)
        _attempt(outcomes[0], lambda: publish_one(metas[0], options, reporter), raise_bugs)
        return outcomes
    lock = threading.Lock()
    progress = _TotalProgress(reporter, lock, {
        o.file: o.meta.content.size_encrypted for o in outcomes})

    def run(outcome: Outcome) -> None:
        own = _Prefixed(reporter, lock, outcome.file, progress)
        path = outcome.meta.content.path
        file_options = replace(options, file=path, files=(path,))
        try:
            _attempt(outcome, lambda: publish_one(outcome.meta, file_options, own), raise_bugs)
        finally:
            progress.finish(outcome.file)

    run_bounded(outcomes, run, options.max_parallel, "artifact", on_cancel)
    return outcomes


def run_bounded(items: Sequence[T], run: Callable[[T], None], bound: int, name: str,
                on_cancel: Callable[[], None] | None = None) -> None:
    """``run`` on every item, at most ``bound`` at a time, on threads named ``name``.

    The calling thread only waits, with a timeout, so it stays free to take a SIGTERM. When
    anything goes up (a cancel, a bug), items not started stay unstarted and ``on_cancel``
    stops the work under way (uploads stop at their next block and clean up)."""
    with ThreadPoolExecutor(max_workers=bound, thread_name_prefix=name) as pool:
        pending: set[Future[None]] = {pool.submit(run, item) for item in items}
        try:
            while pending:
                finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            if on_cancel is not None:
                on_cancel()
            raise


def _attempt(outcome: Outcome, publish: Callable[[], PublishResult], raise_bugs: bool) -> None:
    try:
        outcome.result = publish()
    except Exception as exc:  # recorded for this file; the others go on
        if raise_bugs and not isinstance(exc, IntuneStepError):
            raise  # a bug, and its traceback was asked for
        outcome.error = exc


def prepare_all(files: Sequence[Path], options: PublishOptions,
                read: Callable[[PublishOptions], AppMetadata]) -> list[AppMetadata]:
    """Read every artifact (with the user's overrides) before anything touches the network."""
    metas = [read(replace(options, file=path, files=(path,))) for path in files]
    if len(metas) > 1:
        check_several(metas, options)
    return metas
