"""The terminal: colour and a progress bar on a TTY, plain text otherwise."""

from __future__ import annotations

import io

from intune_step.ci.local import LocalHost


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_tty_means_plain_lines_and_periodic_progress() -> None:
    out, err = io.StringIO(), io.StringIO()
    host = LocalHost(out, err, environ={})
    host.warning("careful")
    host.error("broken")
    host.progress("Uploading", 0, 100)
    host.progress("Uploading", 50, 100)  # within progress_every: dropped
    host.progress("Uploading", 100, 100)
    text = err.getvalue()
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    assert lines[:2] == ["Warning: careful", "Error: broken"]
    assert len(lines) == 4 and "(100%)" in lines[-1]


def test_a_tty_gets_colour_and_a_bar() -> None:
    err = Tty()
    host = LocalHost(io.StringIO(), err, environ={})
    host.error("broken")
    host.progress("Uploading", 512, 1024)
    text = err.getvalue()
    assert "\x1b[31m" in text and "Error: broken" in text
    assert "\r" in text and "█" in text and "░" in text


def test_no_color_keeps_the_bar_but_drops_colour() -> None:
    err = Tty()
    host = LocalHost(io.StringIO(), err, environ={"NO_COLOR": "1"})
    host.error("broken")
    host.progress("Uploading", 1, 2)
    assert "\x1b[31m" not in err.getvalue() and "█" in err.getvalue()


def test_outputs_go_to_stdout_and_inputs_come_from_intune_variables() -> None:
    out = io.StringIO()
    host = LocalHost(out, io.StringIO(), environ={"INTUNE_FILE": "a.ipa"})
    assert host.read_inputs(["file", "app-id"]) == {"file": "a.ipa", "app-id": None}
    host.mask("hunter22")
    host.set_outputs({"app-id": "x", "note": "hunter22"})
    assert out.getvalue() == "app-id=x\nnote=***\n"
