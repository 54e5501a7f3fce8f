"""The library call under every way of running the step: publish these files, with these
settings, and say how each one ended.

The CLI, each CI entry and the demo call :func:`publish_files`; so can a script, with no CI
host at all::

    from intune_step import build_options, build_settings, publish_files

    settings = build_settings({"client-id": ..., "client-secret": ..., "auth-url": ...})
    options = build_options({"file": "dist/app.ipa", "display-name": "Field Service"})
    for outcome in publish_files(settings, options):
        print(outcome.file, outcome.result.app_id if outcome.result else outcome.error)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from intune_step.artifacts.base import AppMetadata
from intune_step.auth.guards import TokenFacts
from intune_step.auth.permissions import GATE, GROUPS, require
from intune_step.auth.signin import sign_in
from intune_step.config.gate import GateBar
from intune_step.config.options import PublishOptions
from intune_step.config.settings import Settings
from intune_step.config.tuning import Tuning
from intune_step.errors import BadInputError, GateError
from intune_step.graph.client import GRAPH_RETRY, GraphClient
from intune_step.graph.directory import Directory
from intune_step.graph.lookup import AppFinder
from intune_step.graph.reports import Reports
from intune_step.publish import lifecycle
from intune_step.publish.digests import FileDigests
from intune_step.publish.flow import Publisher, file_sha256
from intune_step.publish.gate import Gate, GateStatus, app_version_label
from intune_step.publish.lifecycle import Win32Lifecycle
from intune_step.publish.prepare import prepare
from intune_step.publish.promote import PromoteResult, Promotion, record_ring
from intune_step.publish.result import PublishResult, version_label
from intune_step.publish.rollback import Rollback, RollbackResult, refuse_type
from intune_step.publish.several import Outcome, prepare_all, publish_all
from intune_step.report import LoggingReporter, Reporter
from intune_step.transport.http import make_client
from intune_step.transport.throttle import ThrottleGates
from intune_step.upload.blob import BLOB_RETRY, DEFAULT_IN_FLIGHT, BlockUploader, Uploader

UploaderFactory = Callable[..., Uploader]


def publish_files(
    settings: Settings,
    options: PublishOptions,
    *,
    reporter: Reporter | None = None,
    tuning: Tuning | None = None,
    environ: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    uploader: UploaderFactory = BlockUploader,
    gate: GateBar | None = None,
) -> list[Outcome]:
    """Publish every file ``options`` names; one :class:`Outcome` per file, in order.

    Every file is read and checked before anything is sent, so bad input raises a
    BadInputError and writes nothing; so does a failed sign-in. After that, a file that fails
    ends in its Outcome's ``error`` and the others go on.

    ``environ`` is only read for federated credentials (a CI's OIDC endpoint or token
    variable); ``workspace`` anchors relative credential paths (default: the current folder);
    ``uploader`` builds the block uploader (the benchmark swaps in the common tools' way);
    ``gate`` with ``wait`` set runs the install gate on each published build (its status in
    the Outcome's ``gate``; a gate that fails or times out in its ``error``).
    """
    reporter = reporter or LoggingReporter()
    tuning = tuning or Tuning()
    workspace = workspace or Path.cwd()
    metas = read_files(settings, options, reporter)
    in_flight = tuning.blocks_in_flight or DEFAULT_IN_FLIGHT
    with make_client(max_connections=in_flight + 8, ca_file=tuning.ca_file,
                     ca_dir=tuning.ca_dir) as http:
        blocks = uploader(http, reporter, in_flight=in_flight, block_size=tuning.block_size,
                          retry=BLOB_RETRY.tuned(tuning))
        tenant = Tenant(http, blocks, ThrottleGates(), FileDigests(), tuning,
                        environ or {}, workspace, gate)
        return tenant.publish(settings, options, metas, reporter)


@dataclass(frozen=True)
class Tenant:
    """What the publishes to one tenant use, and what a run to several tenants shares: the
    connections, the block uploader (its buffer pool bounds memory for every upload), the
    throttle gates (one per tenant and app) and the artifacts' hashes."""

    http: httpx.Client
    blocks: Uploader
    gates: ThrottleGates
    digests: FileDigests
    tuning: Tuning
    environ: Mapping[str, str]
    workspace: Path
    gate: GateBar | None = None  # the install gate, run on each build once published

    def publish(self, settings: Settings, options: PublishOptions,
                metas: list[AppMetadata], reporter: Reporter) -> list[Outcome]:
        """Sign in to this tenant (a failure raises), then publish every artifact; an
        artifact that fails ends in its Outcome and the others go on."""
        tuning = self.tuning
        # Sign in, and check tenant and permission, before anything touches Intune.
        tokens, facts = sign_in(settings, self.http, reporter, self.environ, self.workspace,
                                tuning)
        gate = self.gate if self.gate is not None and self.gate.wait else None
        if gate is not None and gate.group_id and facts.readable:
            require((GROUPS,), facts.roles, settings.client_id)  # before anything is written
        graph = GraphClient(self.http, settings.graph_url, settings.graph_version, tokens,
                            reporter, GRAPH_RETRY.tuned(tuning),
                            gate=self.gates.gate(settings.tenant, settings.client_id))
        options = resolve_names(Directory(graph), options, metas)  # before any write
        if options.several:
            reporter.info(f"Publishing {len(metas)} artifacts, up to {options.max_parallel} "
                          "at a time")

        def publish_one(meta: AppMetadata, file_options: PublishOptions,
                        own: Reporter) -> PublishResult:
            publisher = Publisher(settings, graph, self.blocks.reporting_to(own), own,
                                  tuning=tuning, digests=self.digests)
            if lifecycle.applies(meta, file_options):
                result = Win32Lifecycle(publisher, graph, own).publish(meta, file_options)
            else:
                result = publisher.publish(meta, file_options)
            if file_options.ring is not None and result.operation != "dry-run":
                reached = record_ring(graph, AppFinder(graph), result.app_id,
                                      file_options.ring.name, own)
                result = replace(result, rings=",".join(reached))
            return result

        outcomes = publish_all(metas, options, reporter, publish_one, self.workspace,
                               on_cancel=self.blocks.cancel, raise_bugs=tuning.debug)
        if gate is not None and not options.dry_run:
            installs = _gate(graph, self.http, reporter, tuning)
            for outcome in outcomes:
                if outcome.result is not None and outcome.error is None:
                    _run_gate(installs, outcome, gate)
        return outcomes


def _gate(graph: GraphClient, http: httpx.Client, reporter: Reporter, tuning: Tuning) -> Gate:
    reports = Reports(graph, http, poll=2.0 if tuning.report_poll is None else tuning.report_poll)
    return Gate(reports, reporter, poll=tuning.gate_poll)


def _run_gate(installs: Gate, outcome: Outcome, bar: GateBar) -> None:
    assert outcome.result is not None
    try:
        outcome.gate = installs.wait(outcome.result.app_id, outcome.result.version, bar)
    except GateError as exc:
        outcome.error = exc
        outcome.gate = exc.status if isinstance(exc.status, GateStatus) else None


def install_status(settings: Settings, app_id: str, bar: GateBar, *, version: str | None = None,
                   reporter: Reporter | None = None, tuning: Tuning | None = None,
                   environ: Mapping[str, str] | None = None,
                   workspace: Path | None = None) -> GateStatus:
    """The install gate on its own (`intune-step status`): wait until ``app_id``'s version
    (default: the one in Intune now) has reached devices by ``bar``; raises GateFailedError or
    GateTimeoutError otherwise."""
    reporter = reporter or LoggingReporter()
    tuning = tuning or Tuning()
    reporter.info(settings.describe())
    with make_client(ca_file=tuning.ca_file, ca_dir=tuning.ca_dir) as http:
        graph, facts = _signed_in(settings, http, reporter, environ, workspace, tuning,
                                  require_write=False)
        if facts.readable:  # the permissions these calls document, before the first of them
            require((GATE, GROUPS) if bar.group_id else (GATE,), facts.roles,
                    settings.client_id)
        if version is None:
            app = graph.get(f"deviceAppManagement/mobileApps/{app_id}", what="read the app")
            version = app_version_label(app)
            if not version:
                raise BadInputError(f"app {app_id} has no version in Intune to wait for",
                                    fix="pass the version to wait for (--version)")
        return _gate(graph, http, reporter, tuning).wait(app_id, version, bar)


def _signed_in(settings: Settings, http: httpx.Client, reporter: Reporter,
               environ: Mapping[str, str] | None, workspace: Path | None, tuning: Tuning,
               require_write: bool = True) -> tuple[GraphClient, TokenFacts]:
    """Sign in (tenant and permission checked) and the Graph client that uses the token:
    what the commands on one app (status, rollback, promote) start with."""
    tokens, facts = sign_in(settings, http, reporter, environ or {}, workspace or Path.cwd(),
                            tuning, require_write=require_write)
    return GraphClient(http, settings.graph_url, settings.graph_version, tokens, reporter,
                       GRAPH_RETRY.tuned(tuning)), facts


def read_files(settings: Settings, options: PublishOptions,
               reporter: Reporter) -> list[AppMetadata]:
    """Every artifact's metadata with the user's overrides, read and checked offline."""
    metas = prepare_all(options.files or (options.file,), options,
                        lambda o: prepare(o, settings.graph_version, reporter.warning))
    reporter.info(settings.describe())
    for meta in metas:
        reporter.info(f"{meta.file_name}: {meta.app_type} {meta.identity} "
                      f"{version_label(meta)}")
        check_settings(options, meta.app_type, settings.graph_version)
    return metas


def check_settings(options: PublishOptions, app_type: str, graph_version: str) -> None:
    """Every assignment setting must apply to the app's type: refused offline otherwise."""
    rings = [r for r in (options.promote_to, options.promote_from) if r is not None]
    for item in (*(options.assignments or ()), *(a for r in rings for a in r.assignments)):
        item.graph_settings(app_type, graph_version)


def resolve_names(directory: Directory, options: PublishOptions,
                  metas: list[AppMetadata]) -> PublishOptions:
    """Group and filter names as IDs, each filter's platform checked against every file."""
    if not options.assignments:
        return options
    resolved = directory.resolve(options.assignments)
    for meta in metas:
        directory.check_platforms(resolved, meta.app_type)
    ring = options.ring
    if ring is not None:
        keys = {a.key for a in directory.resolve(ring.assignments)}
        ring = replace(ring, assignments=tuple(a for a in resolved if a.key in keys))
    return replace(options, assignments=resolved, ring=ring)


def rollback(settings: Settings, options: PublishOptions, *, reporter: Reporter | None = None,
             tuning: Tuning | None = None, environ: Mapping[str, str] | None = None,
             workspace: Path | None = None) -> RollbackResult:
    """Move the assignments of the file's version (or ``options.app_id``) back to the
    version before it; refuses app types that cannot go back (publish/rollback.py)."""
    reporter = reporter or LoggingReporter()
    tuning = tuning or Tuning()
    [meta] = read_files(settings, replace(options, several=False), reporter)
    refuse_type(meta.app_type)  # before sign-in: no tenant can change this answer
    with make_client(ca_file=tuning.ca_file, ca_dir=tuning.ca_dir) as http:
        graph, _ = _signed_in(settings, http, reporter, environ, workspace, tuning)
        directory = Directory(graph)
        ring = options.ring
        if ring is not None:
            ring = replace(ring, assignments=directory.resolve(ring.assignments))
        return Rollback(graph, reporter).run(meta, replace(options, ring=ring))


def promote(settings: Settings, options: PublishOptions, *, reporter: Reporter | None = None,
            tuning: Tuning | None = None, environ: Mapping[str, str] | None = None,
            workspace: Path | None = None) -> PromoteResult:
    """Promote the file's build (or ``options.app_id``) to ``options.promote_to``
    (publish/promote.py): names resolved and settings checked before any write."""
    reporter = reporter or LoggingReporter()
    tuning = tuning or Tuning()
    [meta] = read_files(settings, replace(options, several=False), reporter)
    sha256 = "" if options.app_id else file_sha256(meta.content.path)
    with make_client(ca_file=tuning.ca_file, ca_dir=tuning.ca_dir) as http:
        graph, _ = _signed_in(settings, http, reporter, environ, workspace, tuning)
        return Promotion(graph, Directory(graph), reporter, settings.graph_version).run(
            meta, options, sha256)
