"""The recorder (runtime/recorder.py): the JSON-lines codec rebuilds every input and output
exactly, secrets never reach the file, the owner records what it hands the Speaker, and a
replay finds the first changed output (and re-blessing accepts it)."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import io
import json
import typing
from pathlib import Path
from typing import Any

import pytest

from gracebgp.core import commands as cmd
from gracebgp.core import events as ev
from gracebgp.core.originate import LocalRoute
from gracebgp.daemon import main
from gracebgp.runtime import recorder
from gracebgp.runtime.fromconfig import speaker_args
from gracebgp.runtime.owner import Owner
from gracebgp.runtime.recorder import Recorder, SpeakerArgs, decode, encode
from gracebgp.types import IPV6_UNICAST, Family
from gracebgp.wire.iana import AddPathMode

from ..core.grnet import A, B, neighbor, routes

SCENARIO = Path(__file__).parents[2] / "scenarios" / "hard-reset" / "b.jsonl"
OPTS = ev.SocketOptions(md5_password="hunter2", ao_keys=(ev.AoKey(1, 2, "hmac(sha1)", 12, "k3y"),), ttl=1)

#: One instance of every dataclass of core/events.py, its fields off their defaults.
SAMPLES: list[Any] = [
    ev.Started("planned", "gracebgp restart"),
    ev.Connected(B, 7, A, outgoing=True),
    ev.ConnectFailed(B, 7, "refused"),
    ev.BfdChanged(B, "up", "down", "down", "control-detection-time-expired", True),
    ev.Disconnected(B, 7, "reset"),
    ev.Received(B, 7, b"\xff" * 16 + b"\x00\x13\x04"),
    ev.TimerDue(),
    ev.InputDrained(),
    ev.Continue(),
    ev.StopRequested(graceful=True, message="bye"),
    ev.Tunables(5.0, llgr_ibgp=True, provisional_hard=True),
    ev.Reconfigured((neighbor(A, B, llgr=100),), routes(("192.0.2.0/24",), ("2001:db8::/32",)),
                    ev.Tunables(1.5)),
    ev.RestartDecided("unplanned", "crash"),
    ev.RoutesWatched(True), ev.DebugLogged(True),
    ev.CommandRequested(3, cmd.AddRoutes((LocalRoute("192.0.2.0/24", med=5, communities=("65001:1",)),))),
    ev.AoKey(1, 2, "cmac(aes128)", 12, "k"),
    OPTS,
    ev.Connect(B, 7, B, 179, A, OPTS),
    ev.AcceptFrom(B, None),
    ev.Send(B, 7, b"\x00\x01"),
    ev.Close(B, 7, after_notification=True),
    ev.Log("info", "up", B, "restart", "peer-state", {"old": "IDLE", "n": 3, "list": [1, {"a": None}],
                                                      "ok": True, "ratio": 0.5}),
    ev.Reply(4, 200, "done", {"changed": 2, "phase": None}),
    ev.Notice("reload", "reloaded", None, {"peers": [{"peer": B, "changed": ["hold-time"]}]}),
    ev.StoreRoutes((LocalRoute("10.0.0.0/8"),), ("10.1.0.0/16",), ref=9),
]


def _events_dataclasses() -> list[type]:
    return [c for _, c in inspect.getmembers(ev, inspect.isclass)
            if dataclasses.is_dataclass(c) and c.__module__ == ev.__name__]


def test_every_dataclass_of_core_events_has_a_sample() -> None:
    """A new input or output type fails here until it has a sample (and so a codec)."""
    missing = {c.__name__ for c in _events_dataclasses()} - {type(s).__name__ for s in SAMPLES}
    assert not missing, f"add a sample of {sorted(missing)} to SAMPLES (and check the codec rebuilds it)"


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_round_trip_is_exact(value: Any) -> None:
    text = recorder.line({"v": encode(value)})
    back = decode(json.loads(text)["v"])
    assert back == value and type(back) is type(value)
    assert recorder.line({"v": encode(back)}) == text  # canonical: the same line again


def test_every_input_output_and_command_type_is_known() -> None:
    for union in (ev.Input, ev.Output, cmd.Command):
        for cls in typing.get_args(union):
            assert recorder.TYPES[cls.__name__] is cls


def test_the_values_inside() -> None:
    """Tuples and lists, frozensets, families, enums and non-string keys come back as they were."""
    values = (("a", 1), ["a", 1], frozenset({IPV6_UNICAST}), Family(25, 70), AddPathMode.RECEIVE,
              {1: "x", "@k": 2}, {"k": ("t",)}, b"", -0.5, None)
    for value in values:
        back = decode(json.loads(json.dumps(encode(value))))
        assert back == value and type(back) is type(value), value


def test_a_type_without_a_codec_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unknown:
        x: int

    with pytest.raises(TypeError, match=r"no codec for .*Unknown"):
        encode(ev.Reply(1, 200, "", Unknown(1)))
    with pytest.raises(ValueError, match=r"unknown type 'Unknown'"):
        decode({"@": "Unknown", "x": 1})


def test_secrets_are_redacted_consistently() -> None:
    stream = io.StringIO()
    rec = Recorder(stream, key=b"k")
    other = ev.SocketOptions(md5_password="other")
    rec.step(1.0, ev.InputDrained(), [ev.AcceptFrom(B, OPTS), ev.AcceptFrom(A, OPTS),
                                      ev.AcceptFrom(C, other)])
    text = stream.getvalue()
    assert "hunter2" not in text and "k3y" not in text
    outs = [decode(json.loads(s)["out"]) for s in text.splitlines()[1:]]
    md5 = [o.options.md5_password for o in outs]
    assert md5[0] == md5[1] != md5[2] and md5[0].startswith("redacted-")
    assert outs[0].options.ao_keys[0].key.startswith("redacted-")


C = "127.0.0.3"


def _speaker_args() -> SpeakerArgs:
    return SpeakerArgs(65001, A, (neighbor(A, B),), routes(("192.0.2.0/24",)))


def test_the_owner_records_what_it_hands_the_speaker() -> None:
    """Through the owner: the speaker line, accept_commands, every handle() with its time
    and outputs; the recording replays to the same outputs."""
    stream = io.StringIO()

    async def go() -> None:
        args = _speaker_args()
        owner = Owner(args.build(), [])
        rec = Recorder(stream, key=b"k")
        rec.begin(args)
        owner.recorder = rec
        await owner.start("planned", "test")
        owner.feed(ev.RestartDecided("planned", "test"))
        owner.feed(ev.CommandRequested(1, cmd.Drain(0)))
        owner.feed(ev.TimerDue())
        await owner.transport.shutdown()

    asyncio.run(go())
    lines = [json.loads(s) for s in stream.getvalue().splitlines()]
    assert "speaker" in lines[0] and lines[0]["version"] == recorder.VERSION
    assert lines[1] == {"call": "accept_commands"} and lines[2]["out"]["@"] == "AcceptFrom"
    inputs = [x["in"]["@"] for x in lines if "in" in x]
    assert inputs == ["RestartDecided", "CommandRequested", "TimerDue"]
    assert any(x.get("out", {}).get("@") == "Reply" for x in lines)
    assert recorder.replay(stream.getvalue()) is None


def test_an_input_the_speaker_raises_on_is_recorded_with_its_error_and_replays_as_one() -> None:
    """A bug in handle(): the owner logs it and goes on; the recording keeps the input and
    the error in place of outputs, and the replay raises the same error at that step."""
    stream = io.StringIO()

    async def go() -> None:
        args = _speaker_args()
        owner = Owner(args.build(), [])
        owner.recorder = Recorder(stream, key=b"k")
        owner.recorder.begin(args)
        owner.feed(ev.Reconfigured(("not a NeighborSettings",), ()))
        owner.feed(ev.TimerDue())  # the daemon goes on, and so does the recording
        await owner.transport.shutdown()

    asyncio.run(go())
    lines = stream.getvalue().splitlines()
    errors = [n for n, s in enumerate(lines) if s.startswith('{"error"')]
    assert len(errors) == 1 and json.loads(lines[errors[0] - 1])["in"]["@"] == "Reconfigured"
    error = "AttributeError: 'str' object has no attribute 'address'"
    assert json.loads(lines[errors[0]]) == {"error": error}
    assert json.loads(lines[-1])["in"]["@"] == "TimerDue"
    assert recorder.replay(stream.getvalue()) is None
    # A recording that says the input went through is not what the speaker does now.
    quiet = "\n".join(s for s in lines if not s.startswith('{"error"')) + "\n"
    mismatch = recorder.replay(quiet)
    assert mismatch is not None and mismatch.got == [lines[errors[0]]]


def test_an_older_recording_s_set_debug_call_replays_as_the_input() -> None:
    path = SCENARIO.parents[1] / "treat-as-withdraw" / "b.jsonl"
    text = path.read_text()
    new = '{"in":{"@":"DebugLogged","on":true},"t":1000.0}'
    assert text.count(new) == 1
    assert recorder.replay(text.replace(new, '{"call":"set_debug","on":true}')) is None
    # and the debug lines it turned on are in the golden file: without them, a mismatch
    assert recorder.replay(text.replace(new, '{"call":"set_debug","on":false}')) is not None


def test_a_failing_write_stops_the_recording_not_the_daemon(caplog: pytest.LogCaptureFixture) -> None:
    class Full(io.StringIO):
        def write(self, s: str) -> int:
            raise OSError(28, "No space left on device")

    rec = Recorder(Full(), "full.jsonl")
    rec.step(1.0, ev.InputDrained(), [])
    rec.step(2.0, ev.InputDrained(), [])
    assert "No space left" in rec.broken
    assert [r.message for r in caplog.records] == ["recording to full.jsonl stopped: [Errno 28] No space "
                                                    "left on device"]


def test_replay_reports_the_first_changed_output_and_rebless_accepts_it() -> None:
    text = SCENARIO.read_text()
    lines = text.splitlines()
    n = next(i for i, s in enumerate(lines) if s.startswith('{"out"') and "decommission" in s)
    changed = lines[n].replace("decommission", "DECOMMISSION", 1)
    assert changed != lines[n]
    bad = "\n".join([*lines[:n], changed, *lines[n + 1:]]) + "\n"
    mismatch = recorder.replay(bad)
    assert mismatch is not None
    report = mismatch.describe("hard-reset/b.jsonl")
    assert report.startswith("hard-reset/b.jsonl: line ")
    assert f"-{changed}" in report and f"+{lines[n]}" in report and "input: {" in report
    assert recorder.rebless(bad) == text


def test_replay_rebuilds_each_run_from_its_speaker_line() -> None:
    """A planned restart appends a second run: its own speaker line, its own Speaker."""
    path = SCENARIO.parents[1] / "planned-restart" / "a.jsonl"
    segments = recorder.read(path.read_text())
    assert len(segments) == 2
    assert recorder.replay(path.read_text()) is None


def test_bad_lines_name_their_number() -> None:
    with pytest.raises(ValueError, match="line 1: a recording starts with a speaker line"):
        recorder.read('{"in":{"@":"TimerDue"},"t":1}\n')
    head = recorder.line({"speaker": encode(_speaker_args()), "version": 1})
    with pytest.raises(ValueError, match=r"line 2: unknown type 'Nope'"):
        recorder.read(head + '\n{"in":{"@":"Nope"},"t":1}\n')


def test_the_daemon_builds_its_speaker_from_what_it_records(tmp_path: Path) -> None:
    from gracebgp.config import parse
    cfg = parse(f'[global.config]\nas = 65001\nrouter-id = "192.0.2.1"\n[gracebgp]\n'
                f'state-dir = "{tmp_path}"\n[[gracebgp.routes]]\nprefix = "192.0.2.0/24"\n')
    args = speaker_args(cfg, (LocalRoute("10.0.0.0/8"),), "/etc/gracebgp.toml")
    assert decode(json.loads(json.dumps(encode(args)))) == args
    sp = args.build()
    assert sp.config_file == "/etc/gracebgp.toml" and len(sp.local_routes) == 2


def test_gracebgpd_record_to_a_file_that_cannot_be_opened_exits_2(tmp_path: Path) -> None:
    conf = tmp_path / "g.toml"
    conf.write_text(f'[global.config]\nas = 65001\nrouter-id = "192.0.2.1"\nport = -1\n'
                    f'[gracebgp]\nstate-dir = "{tmp_path / "state"}"\napi-socket = "{tmp_path / "s"}"\n')
    assert main(["-f", str(conf), "--record", str(tmp_path / "no" / "such" / "dir.jsonl")]) == 2


def test_changing_record_needs_a_restart_and_a_reload_keeps_recording_where_it_started() -> None:
    from gracebgp.config import diff, parse
    from gracebgp.runtime.fromconfig import keep_identity
    base = '[global.config]\nas = 65001\nrouter-id = "192.0.2.1"\n[gracebgp]\n'
    old, new = parse(base + 'record = "/var/tmp/a.jsonl"\n'), parse(base + 'record = "/var/tmp/b.jsonl"\n')
    assert diff(old, new).needs_restart == (
        "gracebgp.record changed from /var/tmp/a.jsonl to /var/tmp/b.jsonl",)
    assert keep_identity(old, new).gracebgp.record == "/var/tmp/a.jsonl"


def test_a_policy_book_is_recorded_as_its_source_and_compiled_again() -> None:
    from gracebgp.config.policy_source import PolicySource, parse_apply_policy
    from gracebgp.policy import Direction, PolicyBook

    src = PolicySource().with_set("prefix", {"name": "pods", "prefix_list": [{"ip_prefix": "10.0.0.0/8"}]})
    src = src.with_policy({"name": "p", "statements": [{"match_prefix_set": {"name": "pods"},
                                                         "route_disposition": "reject-route"}]})
    book = src.with_global(parse_apply_policy({"export_policies": ["p"]})).build()
    text = json.dumps(encode(ev.Reconfigured((), (), policy_book=book)))
    again = decode(json.loads(text)).policy_book
    assert again.source == book.source and list(again.policies) == ["p"]
    assert [p.name for p in again.assignment(None, Direction.EXPORT, True).policies] == ["p"]
    assert decode(json.loads(json.dumps(encode(PolicyBook())))) == PolicyBook()
    direct = dataclasses.replace(book, source=None)
    with pytest.raises(TypeError, match="without its source"):
        encode(direct)
