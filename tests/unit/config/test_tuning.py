"""The tuning knobs: read once from the environment, validated one way, documented once."""

from __future__ import annotations

from dataclasses import fields, replace
from itertools import islice
from pathlib import Path

import pytest

from intune_step.config.tuning import DEPRECATED, KNOBS, PollSchedule, Tuning, WaitSchedules
from intune_step.errors import SettingsError
from intune_step.graph.waits import WaitPolicy

README = Path(__file__).resolve().parents[3] / "docs" / "inputs.md"  # its tuning table


def test_every_field_has_one_knob_and_every_knob_one_field() -> None:
    assert sorted(k.field for k in KNOBS) == sorted(f.name for f in fields(Tuning))
    assert len({k.variable for k in KNOBS}) == len(KNOBS)


def test_unset_knobs_leave_every_default() -> None:
    assert Tuning.from_environ({"PATH": "/bin", "INTUNE_CLIENT_ID": "x"}) == Tuning()


def test_each_kind_is_parsed() -> None:
    tuning = Tuning.from_environ({
        "INTUNE_BLOCKS_IN_FLIGHT": "4", "INTUNE_BLOCK_SIZE": "65536",
        "INTUNE_RETRY_BASE_DELAY": "0.25", "INTUNE_POLL_INTERVAL": "0.1",
        "INTUNE_WAIT_TIMEOUT": "7", "INTUNE_STEP_DEBUG": "1", "SSL_CERT_FILE": "/ca.pem"})
    assert (tuning.blocks_in_flight, tuning.block_size) == (4, 65536)
    assert (tuning.retry_base_delay, tuning.poll_interval, tuning.wait_timeout) == (0.25, 0.1, 7)
    assert tuning.debug and tuning.ca_file == Path("/ca.pem") and tuning.ca_dir is None


@pytest.mark.parametrize("variable, value, message", [
    ("INTUNE_WAIT_TIMEOUT", "soon", "INTUNE_WAIT_TIMEOUT must be a number of seconds"),
    ("INTUNE_WAIT_TIMEOUT", "-1", "INTUNE_WAIT_TIMEOUT must be a number of seconds"),
    ("INTUNE_POLL_INTERVAL", "nan", "INTUNE_POLL_INTERVAL must be a number of seconds"),
    ("INTUNE_LOCK_POLL_S", "inf", "INTUNE_LOCK_POLL_S must be a number of seconds"),
    ("INTUNE_BLOCKS_IN_FLIGHT", "0", "INTUNE_BLOCKS_IN_FLIGHT must be a whole number"),
    ("INTUNE_BLOCK_SIZE", "6M", "INTUNE_BLOCK_SIZE must be a whole number"),
    ("INTUNE_PARALLEL", "many", "INTUNE_PARALLEL must be a whole number"),
])
def test_a_bad_value_is_bad_input_naming_the_knob(variable: str, value: str,
                                                  message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Tuning.from_environ({variable: value})
    assert caught.value.exit_code == 2 and f"unset {variable}" in (caught.value.fix or "")


def test_the_old_name_of_blocks_in_flight_works_with_a_warning() -> None:
    warnings: list[str] = []
    assert Tuning.from_environ({"INTUNE_PARALLEL": "3"}, warnings.append).blocks_in_flight == 3
    assert warnings == ["INTUNE_PARALLEL is deprecated: it is now INTUNE_BLOCKS_IN_FLIGHT "
                        "(blocks in flight, not artifacts at once)"]
    both = {"INTUNE_PARALLEL": "3", "INTUNE_BLOCKS_IN_FLIGHT": "5"}
    assert Tuning.from_environ(both).blocks_in_flight == 5  # the new name wins
    assert DEPRECATED == {"INTUNE_PARALLEL": "INTUNE_BLOCKS_IN_FLIGHT"}


def test_the_wait_policy_takes_the_poll_interval_and_the_cap() -> None:
    policy = WaitPolicy.tuned(Tuning.from_environ({"INTUNE_POLL_INTERVAL": "0.1",
                                                    "INTUNE_WAIT_TIMEOUT": "7"}))
    assert policy.schedules == WaitSchedules.uniform(0.1, 2.0)
    assert list(islice(policy.schedules.commit.delays(), 6)) == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert policy.limit(300) == 7.0 and policy.limit() == 7.0
    plain = WaitPolicy.tuned(Tuning())
    assert plain.schedules == WaitSchedules() and plain.limit(300) == 300 and plain.limit() == 600


def test_a_tuned_schedule_reads_fast_then_steadily_then_backs_off() -> None:
    schedule = PollSchedule(fast=(0.05, 0.1), steady=0.5, steady_for=1.5, backoff=2,
                            max_interval=3)
    assert list(islice(schedule.delays(), 9)) == [0.05, 0.1, 0.5, 0.5, 0.5, 1.0, 2.0, 3, 3]


def test_every_state_has_fast_first_reads_and_a_steady_half_second() -> None:
    schedules = WaitSchedules()
    for state in (schedules.upload_url, schedules.commit, schedules.publish, schedules.renewal):
        first = list(islice(state.delays(), 4))
        assert sum(first[:3]) < 0.5 and first[3] == 0.5  # seen within 0.35 s, then every 0.5
    assert schedules.commit.steady_for > schedules.upload_url.steady_for


def test_the_readme_documents_every_knob_in_one_table() -> None:
    text = README.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    for knob in KNOBS:
        documented = [row for row in rows if row.startswith(f"| `{knob.variable}` |")]
        assert len(documented) == 1, knob.variable
        assert knob.default in documented[0] and knob.meaning in documented[0]


def test_the_retry_base_delay_applies_to_each_clients_own_policy() -> None:
    from intune_step.auth.oidc import FETCH_RETRY
    from intune_step.auth.tokens import ENTRA_RETRY
    from intune_step.graph.client import GRAPH_RETRY
    from intune_step.upload.blob import BLOB_RETRY

    tuning = Tuning.from_environ({"INTUNE_RETRY_BASE_DELAY": "0.5"})
    for policy in (GRAPH_RETRY, BLOB_RETRY, ENTRA_RETRY, FETCH_RETRY):
        tuned = replace(policy.tuned(tuning), jitter=lambda lo, hi: hi)
        assert tuned.backoff(1) == 0.5 and tuned.backoff(3) == 2.0
        assert (tuned.attempts, tuned.max_delay) == (policy.attempts, policy.max_delay)
        assert policy.tuned(Tuning()) is policy  # unset: the client's own delay
    assert replace(GRAPH_RETRY, jitter=lambda lo, hi: hi).backoff(3) == 4.0
