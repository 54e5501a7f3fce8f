"""One run of the step, shared by the CLI and every CI entry point.

Order matters: secrets are masked first, inputs validated and the artifact read before any
network call, so bad input fails fast and writes nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from intune_step.auth.signin import sign_in
from intune_step.ci.base import CIHost
from intune_step.commands.outputs import run_several
from intune_step.commands.summary import failure_markdown, success_markdown
from intune_step.config.named_settings import apply_named_setting
from intune_step.config.options import build_options
from intune_step.config.settings import Settings, build_settings
from intune_step.errors import EXIT_BUG, EXIT_OK, IntuneStepError
from intune_step.graph.client import GraphClient
from intune_step.publish.flow import Publisher
from intune_step.publish.prepare import prepare
from intune_step.publish.result import version_label
from intune_step.publish.several import prepare_all
from intune_step.transport.http import make_client
from intune_step.upload.blob import DEFAULT_IN_FLIGHT, BlockUploader

SECRET_INPUTS = ("client-secret", "certificate", "certificate-password")


class Cancelled(IntuneStepError):
    """The CI cancelled the job (SIGTERM); cleanup has run."""

    exit_code = 130


@contextmanager
def _sigterm_as_exception() -> Iterator[None]:
    """CI cancels with SIGTERM; turn it into an exception so cleanup code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Cancelled("the job was cancelled (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_publish(raw: Mapping[str, str | None], host: CIHost,
                workspace: Path | None = None) -> int:
    """Publish per ``raw`` inputs, reporting through ``host``; returns the exit code."""
    setting_name = _mask_and_name(raw, host)
    try:
        with _sigterm_as_exception():
            raw = apply_named_setting(raw, workspace or Path.cwd(), os.environ, host)
            setting_name = raw.get("setting-name") or setting_name
            settings = build_settings(raw, os.environ)
            options = build_options(raw, workspace)
            metas = prepare_all(options.files, options,  # every file + overrides, read first
                                lambda o: prepare(o, settings.graph_version, host.warning))
            meta = metas[0]
            _describe_setting(settings, host)
            for item in metas:
                host.info(f"{item.file_name}: {item.app_type} {item.identity} "
                          f"{version_label(item)}")
            in_flight = _int_env("INTUNE_PARALLEL", DEFAULT_IN_FLIGHT)
            with make_client(max_connections=in_flight + 8) as http:
                # Sign in, and check tenant and permission, before anything touches Intune.
                tokens, _ = sign_in(settings, http, host, os.environ, workspace or Path.cwd())
                graph = GraphClient(http, settings.graph_url, settings.graph_version, tokens,
                                    host)
                uploader = BlockUploader(http, host, in_flight=in_flight,
                                         block_size=_int_env("INTUNE_BLOCK_SIZE", 0) or None)
                if options.several:  # a list or pattern: batch.py reports each artifact
                    return run_several(
                        metas, options, settings, host,
                        lambda m, o, r: Publisher(settings, graph, uploader.reporting_to(r),
                                                  r).publish(m, o),
                        workspace, on_cancel=uploader.cancel)
                result = Publisher(settings, graph, uploader, host).publish(meta, options)
        host.set_outputs(result.outputs())
        host.summary(success_markdown(result, meta, settings))
        if result.app_url:
            host.info(f"View at: {result.app_url}")
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("INTUNE_STEP_DEBUG") and not isinstance(exc, IntuneStepError):
            raise  # a bug: the traceback only on request
        return _report_failure(exc, host, setting_name)


def run_check(raw: Mapping[str, str | None], host: CIHost,
              workspace: Path | None = None) -> int:
    """Sign in and run the token checks alone (`intune-step check`): no artifact, no Graph."""
    setting_name = _mask_and_name(raw, host)
    try:
        raw = apply_named_setting(raw, workspace or Path.cwd(), os.environ, host)
        setting_name = raw.get("setting-name") or setting_name
        settings = build_settings(raw, os.environ)
        _describe_setting(settings, host)
        with make_client() as http:
            sign_in(settings, http, host, os.environ, workspace or Path.cwd())
        host.info("Ready to publish: sign-in, tenant and permission checks passed")
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("INTUNE_STEP_DEBUG") and not isinstance(exc, IntuneStepError):
            raise  # a bug: the traceback only on request
        return _report_failure(exc, host, setting_name)


def _mask_and_name(raw: Mapping[str, str | None], host: CIHost) -> str | None:
    """Mask the secret inputs before anything prints; return the setting name for messages."""
    for name in SECRET_INPUTS:
        if raw.get(name):
            host.mask(str(raw[name]))
    return (raw.get("setting-name") or "").strip() or None


def _report_failure(exc: Exception, host: CIHost, setting_name: str | None) -> int:
    """One error line and a summary for any failure; the exit code says whose it is."""
    if isinstance(exc, IntuneStepError):
        line, code = f"{type(exc).__name__}: {exc.one_line()}", exc.exit_code
    else:
        line, code = (f"unexpected {type(exc).__name__}: {str(exc)[:300]} (this is a bug in "
                      "intune-step; re-run with INTUNE_STEP_DEBUG=1 for a traceback and report "
                      "it)"), EXIT_BUG
    host.error(line)
    host.summary(failure_markdown(line, setting_name))
    return code


def _describe_setting(settings: Settings, host: CIHost) -> None:
    cloud = f" ({settings.cloud} cloud)" if settings.cloud else ""
    host.info(f"Setting '{settings.setting_name}': tenant {settings.tenant}{cloud}, "
              f"Graph {settings.graph_url}/{settings.graph_version}")


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else default
