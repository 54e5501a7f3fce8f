"""One run, several tenants: the same artifacts published to every target of the run.

The artifacts are read and checked once, before any sign-in (bad input stops the whole run
and writes nothing anywhere). Then up to ``max_tenants`` targets run at once, each with its
own sign-in, Graph client, locks and retry state; they share the connections, the block
uploader's buffer pool, the throttle gates (one per tenant and app, so two targets of one
tenant and app wait together) and the artifacts' hashes (digests.py). A target that fails, at
sign-in or on an artifact, does not stop the others: each ends in a :class:`TargetOutcome`.

"Read once", precisely: each artifact's metadata is read, checked and its overrides applied
once per run; its plain SHA-256 is computed by a read of its own at most once per run (none
when every target uploads, since each upload's pass yields it). Each upload reads the file
again, once per tenant that needs the content: every upload of an IPA, APK or package is
encrypted with fresh keys for that tenant's content version (an .intunewin is sent as its
builder encrypted it, with its own keys); that read is the upload's own pass, not an extra one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from intune_step.config.options import PublishOptions
from intune_step.config.settings import Settings
from intune_step.config.tuning import Tuning
from intune_step.errors import EXIT_BUG, IntuneStepError, SettingsError
from intune_step.publish.api import Tenant, UploaderFactory, check_settings
from intune_step.publish.digests import FileDigests
from intune_step.publish.prepare import prepare
from intune_step.publish.result import version_label
from intune_step.publish.several import Outcome, prepare_all, run_bounded
from intune_step.report import LoggingReporter, PrefixedReporter, Reporter
from intune_step.transport.http import make_client
from intune_step.transport.throttle import ThrottleGates
from intune_step.upload.blob import BLOB_RETRY, DEFAULT_IN_FLIGHT, BlockUploader


@dataclass(frozen=True)
class Target:
    name: str
    settings: Settings
    options: PublishOptions  # the run's, with this target's own publish inputs


@dataclass
class TargetOutcome:
    """One target's end: an Outcome per artifact, or the error that stopped it first."""

    target: Target
    outcomes: list[Outcome] = field(default_factory=list)
    error: Exception | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and all(o.error is None for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code if isinstance(self.error, IntuneStepError) else EXIT_BUG
        return next((o.exit_code for o in self.outcomes if o.exit_code), 0)


def publish_targets(
    targets: Sequence[Target],
    *,
    max_tenants: int = 4,
    reporter: Reporter | None = None,
    tuning: Tuning | None = None,
    environ: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    uploader: UploaderFactory = BlockUploader,
) -> list[TargetOutcome]:
    """Publish the artifacts of ``targets[0].options`` to every target; one outcome each.

    Bad input (an artifact, or targets on different graph-versions) raises before any
    sign-in; after that a target's failure ends in its TargetOutcome's ``error``.
    """
    reporter = reporter or LoggingReporter()
    tuning = tuning or Tuning()
    workspace = workspace or Path.cwd()
    first = targets[0]
    versions = {t.settings.graph_version for t in targets}
    if len(versions) > 1:  # the offline checks depend on it, and they run once
        raise SettingsError("the targets of one run must use one graph-version, not "
                            f"{' and '.join(sorted(versions))}",
                            fix="set graph-version as an input of the run")
    metas = prepare_all(first.options.files or (first.options.file,), first.options,
                        lambda o: prepare(o, first.settings.graph_version, reporter.warning))
    for meta in metas:
        reporter.info(f"{meta.file_name}: {meta.app_type} {meta.identity} "
                      f"{version_label(meta)}")
        for target in targets:  # each target's own assignment settings, offline
            check_settings(target.options, meta.app_type, target.settings.graph_version)
    reporter.info(f"Publishing to {len(targets)} targets, up to {max_tenants} at a time")
    lock = threading.Lock()
    outcomes = [TargetOutcome(t) for t in targets]
    in_flight = tuning.blocks_in_flight or DEFAULT_IN_FLIGHT
    with make_client(max_connections=in_flight + 8 * min(max_tenants, len(targets)),
                     ca_file=tuning.ca_file, ca_dir=tuning.ca_dir) as http:
        blocks = uploader(http, reporter, in_flight=in_flight, block_size=tuning.block_size,
                          retry=BLOB_RETRY.tuned(tuning))
        shared = Tenant(http, blocks, ThrottleGates(), FileDigests(), tuning, environ or {},
                        workspace)

        def run(outcome: TargetOutcome) -> None:
            target = outcome.target
            own = PrefixedReporter(reporter, lock, target.name)
            own.info(target.settings.describe())
            try:
                outcome.outcomes = shared.publish(target.settings, target.options, metas, own)
            except Exception as exc:  # this target ends here; the others go on
                if tuning.debug and not isinstance(exc, IntuneStepError):
                    raise
                outcome.error = exc

        run_bounded(outcomes, run, max_tenants, "tenant", blocks.cancel)
    return outcomes

