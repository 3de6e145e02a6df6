"""The fault sink itself: each fault, per recipient or for all, switched while it runs."""

import smtplib
import time

import pytest

from tests.faults.fault_sink import FaultRecord, Faults


def send(port: int, rcpt: str, message_id: str, *, timeout: float = 3) -> str:
    """One message over a fresh connection: "ok" or the exception smtplib raised."""
    data = (
        f"From: s@example.com\r\nTo: {rcpt}\r\nMessage-ID: {message_id}\r\n"
        "Subject: hi\r\n\r\nbody\r\n"
    )
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=timeout, local_hostname="client.test") as s:
            s.sendmail("s@example.com", [rcpt], data)
    except (smtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def test_the_sink_accepts_and_records_each_message_id(fault_sink):
    assert send(fault_sink.port, "a@example.com", "<1@t>") == "ok"
    assert send(fault_sink.port, "a@example.com", "<1@t>") == "ok"

    assert fault_sink.record.accepted() == {"<1@t>": 2}


def test_421_on_connect_refuses_the_greeting(fault_sink):
    fault_sink.set_faults(connect="421 4.3.2 Service not available")

    assert send(fault_sink.port, "a@example.com", "<1@t>") == (
        "SMTPConnectError: (421, b'4.3.2 Service not available')"
    )
    assert fault_sink.record.dispositions() == {"421": 1}


def test_451_at_data_refuses_every_message_without_accepting_it(fault_sink):
    fault_sink.set_faults(data="451 4.3.0 Try again later")

    assert send(fault_sink.port, "a@example.com", "<1@t>").startswith("SMTPDataError: (451")
    assert fault_sink.record.accepted() == {}
    assert fault_sink.record.lines == [("451", "<1@t>", "a@example.com")]


def test_550_at_rcpt_refuses_only_the_given_recipient(fault_sink):
    fault_sink.set_faults(rcpt={"gone@example.com": "550 5.1.1 No such user"})

    assert send(fault_sink.port, "gone@example.com", "<1@t>").startswith(
        "SMTPRecipientsRefused: {'gone@example.com': (550"
    )
    assert send(fault_sink.port, "here@example.com", "<2@t>") == "ok"
    assert fault_sink.record.accepted() == {"<2@t>": 1}


def test_per_recipient_data_replies_leave_other_recipients_alone(fault_sink):
    fault_sink.set_faults(data_for={"slow@example.com": "451 4.7.1 Greylisted"})

    assert send(fault_sink.port, "slow@example.com", "<1@t>").startswith("SMTPDataError: (451")
    assert send(fault_sink.port, "fast@example.com", "<2@t>") == "ok"


def test_accept_then_drop_reads_the_message_and_closes_before_the_250(fault_sink):
    fault_sink.set_faults(after_data="drop")

    result = send(fault_sink.port, "a@example.com", "<1@t>")

    assert result.startswith("SMTPServerDisconnected")
    assert fault_sink.record.lines == [("drop", "<1@t>", "a@example.com")]


def test_accept_then_hang_reads_the_message_and_never_answers(fault_sink):
    fault_sink.set_faults(after_data_for={"a@example.com": "hang"})
    started = time.monotonic()

    result = send(fault_sink.port, "a@example.com", "<1@t>", timeout=0.5)

    assert "timed out" in result
    assert 0.4 < time.monotonic() - started < 3
    assert fault_sink.record.lines == [("hang", "<1@t>", "a@example.com")]
    assert send(fault_sink.port, "b@example.com", "<2@t>") == "ok"


def test_faults_lapse_at_their_until_time(fault_sink):
    fault_sink.set_faults(data="451 4.3.0 Try again later", until=time.time() + 0.3)

    assert send(fault_sink.port, "a@example.com", "<1@t>").startswith("SMTPDataError")
    time.sleep(0.4)
    assert send(fault_sink.port, "a@example.com", "<2@t>") == "ok"


def test_an_unknown_after_data_mode_is_refused():
    with pytest.raises(ValueError, match="after_data"):
        Faults(after_data="explode")


def test_the_sink_process_switches_faults_at_run_time_and_keeps_its_record_on_disk(
    sink_process,
):
    port = sink_process.port
    assert send(port, "a@example.com", "<1@t>") == "ok"
    sink_process.set_faults(connect="421 4.3.2 Busy")
    assert send(port, "a@example.com", "<2@t>").startswith("SMTPConnectError: (421")
    sink_process.set_faults(after_data="drop")
    assert send(port, "a@example.com", "<3@t>").startswith("SMTPServerDisconnected")
    sink_process.clear_faults()
    assert send(port, "a@example.com", "<3@t>") == "ok"

    sink_process.stop()
    record = FaultRecord.read(sink_process.record_path)
    assert record.accepted() == {"<1@t>": 1, "<3@t>": 1}
    assert record.dispositions() == {"250": 2, "421": 1, "drop": 1}
