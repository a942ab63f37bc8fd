"""Record and replay the Speaker (DESIGN.md rule 9): ``gracebgpd --record FILE`` (or
``[gracebgp] record``) writes every input the owner hands to ``Speaker.handle`` with its
time, and every output that came back, as JSON lines; ``replay`` feeds a recording to a
new Speaker and compares what it says now with what it said then. tests/scenarios/ holds
recordings replayed as golden tests (docs/scenarios.md).

The file, one JSON object per line, keys sorted (diff-friendly: one changed output is one
changed line):

* ``{"speaker": {...}}``: how the Speaker was built (``SpeakerArgs``: its constructor
  arguments). A new one starts each run of gracebgpd (the file is appended to, so a
  planned restart's re-executed process continues the recording);
* ``{"in": {...}, "t": 1234.5}``: an input and the time handed with it, followed by
  ``{"out": {...}}``, one line per output, in order;
* ``{"error": "ValueError: ..."}`` instead of outputs where ``handle`` raised (a bug: the
  owner logs it and goes on; the recording keeps the input that caused it, so the replay
  raises again and the bug becomes a test);
* ``{"call": "accept_commands"}`` followed by its outputs (the listeners' set-up, not an
  input). Recordings before ``events.DebugLogged`` existed hold ``{"call": "set_debug",
  "on": true}`` instead of that input; the replay reads them as the input.

The codec: a dataclass (or NamedTuple) is an object with its type name under ``"@"`` and
every field; bytes ``{"@hex": "..."}``; an enum ``{"@enum": "Class.NAME"}``; a Family
``{"@family": "ipv4-unicast"}``; a tuple a JSON list, a list ``{"@list": [...]}``, a
frozenset ``{"@frozenset": [...]}`` (sorted); a dict with keys other than strings
``{"@dict": [[k, v], ...]}``; a routing-policy book ``{"@policy": {...}}``, the policy it
was compiled from (``config.policy_source.PolicySource.to_json``, compiled again when
read). ``decode`` rebuilds the exact objects. Secrets (TCP MD5
passwords, TCP-AO keys) are written as ``redacted-<digest>``, keyed per recording, so
equal secrets stay equal and a reload that changes one still shows as a change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import enum
import hashlib
import hmac
import json
import logging
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gracebgp.config.policy_source import PolicySource
from gracebgp.core import commands
from gracebgp.core import events as ev
from gracebgp.core.dynamic import DynamicRange
from gracebgp.core.originate import LocalRoute
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.policy.book import PolicyBook
from gracebgp.policy.definitions import Direction
from gracebgp.types import AFI, IPV4_UNICAST, IPV6_UNICAST, SAFI, Family, make_family

log = logging.getLogger("gracebgp.runtime")

VERSION = 1
#: Fields whose values are secrets: never written as they are.
SECRETS = frozenset({("SocketOptions", "md5_password"), ("AoKey", "key")})
_FAMILY_NAMES = {IPV4_UNICAST: "ipv4-unicast", IPV6_UNICAST: "ipv6-unicast"}
_FAMILIES = {v: k for k, v in _FAMILY_NAMES.items()}


@dataclass(frozen=True, slots=True)
class SpeakerArgs:
    """How a Speaker is built: its constructor's arguments, and the configuration file its
    API refusals name (``Speaker.config_file``). The first line of a recording."""

    local_as: int
    router_id: str
    neighbors: tuple[NeighborSettings, ...] = ()
    routes: tuple[LocalRoute, ...] = ()
    always_compare_med: bool = False
    stored_routes: tuple[LocalRoute, ...] = ()
    tunables: ev.Tunables = field(default_factory=ev.Tunables)
    config_file: str = ""
    ranges: tuple[DynamicRange, ...] = ()  # [[dynamic-neighbors]]
    policy_book: Any = None  # PolicyBook (policy.book): routing policy; None: none

    def build(self) -> Speaker:
        return Speaker(self.local_as, self.router_id, self.neighbors, self.routes,
                       always_compare_med=self.always_compare_med, stored_routes=self.stored_routes,
                       tunables=self.tunables, config_file=self.config_file, ranges=self.ranges,
                       policy_book=self.policy_book)


# --- the registry of types a recording may hold ---------------------------------------------

def _roots() -> list[type]:
    union_members = [*typing.get_args(ev.Input), *typing.get_args(ev.Output),
                     *typing.get_args(commands.Command)]
    return [*union_members, ev.Tunables, SpeakerArgs, NeighborSettings, LocalRoute, DynamicRange]


def _walk(hint: Any, found: dict[str, type]) -> None:
    """Every dataclass, NamedTuple and enum that ``hint`` may hold, by short name."""
    origin = typing.get_origin(hint)
    if origin is not None or isinstance(hint, types.UnionType):
        for arg in typing.get_args(hint):
            _walk(arg, found)
        return
    if not isinstance(hint, type) or hint in (Family,):
        return
    is_record = dataclasses.is_dataclass(hint) or (issubclass(hint, tuple) and hasattr(hint, "_fields"))
    if not (is_record or issubclass(hint, enum.Enum)):
        return
    name = hint.__name__
    if found.get(name) is hint:
        return
    if name in found:
        raise TypeError(f"two types named {name} ({found[name].__module__}, {hint.__module__}): "
                        "the recorder writes types by name")
    found[name] = hint
    if is_record:
        for sub in typing.get_type_hints(hint).values():
            _walk(sub, found)


def _registry() -> dict[str, type]:
    found: dict[str, type] = {}
    for root in [*_roots(), AFI, SAFI]:  # (AFI, SAFI: Family's members)
        _walk(root, found)
    return found


TYPES: dict[str, type] = _registry()


# --- encode -------------------------------------------------------------------------------------

Redact = Callable[[str], str]


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def encode(value: Any, redact: Redact | None = None) -> Any:
    """``value`` as JSON values (see the module doc); TypeError for a type it has no codec for."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return {"@enum": f"{type(value).__name__}.{value.name}"}
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, bytes):
        return {"@hex": value.hex()}
    if isinstance(value, Family):
        name = _FAMILY_NAMES.get(value)
        return {"@family": name if name is not None else [int(value.afi), int(value.safi)]}
    if isinstance(value, PolicyBook):
        return {"@policy": _policy_json(value)}
    cls = type(value)
    if dataclasses.is_dataclass(value) or (isinstance(value, tuple) and hasattr(cls, "_fields")):
        name = cls.__name__
        if TYPES.get(name) is not cls:
            raise TypeError(f"the recorder has no codec for {cls.__module__}.{name}")
        names = ([f.name for f in dataclasses.fields(value)] if dataclasses.is_dataclass(value)
                 else list(cls._fields))
        out: dict[str, Any] = {"@": name}
        for n in names:
            v = getattr(value, n)
            if redact is not None and isinstance(v, str) and (name, n) in SECRETS:
                v = redact(v)
            out[n] = encode(v, redact)
        return out
    if isinstance(value, tuple):
        return [encode(v, redact) for v in value]
    if isinstance(value, list):
        return {"@list": [encode(v, redact) for v in value]}
    if isinstance(value, (frozenset, set)):
        tag = "@frozenset" if isinstance(value, frozenset) else "@set"
        return {tag: sorted((encode(v, redact) for v in value), key=_sort_key)}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and not k.startswith("@") for k in value):
            return {k: encode(v, redact) for k, v in value.items()}
        return {"@dict": [[encode(k, redact), encode(v, redact)] for k, v in value.items()]}
    raise TypeError(f"the recorder has no codec for {cls.__module__}.{cls.__name__}")


# --- decode -------------------------------------------------------------------------------------

def decode(value: Any) -> Any:
    """The object ``encode`` wrote (ValueError naming what it cannot rebuild)."""
    if isinstance(value, list):
        return tuple(decode(v) for v in value)
    if not isinstance(value, dict):
        return value
    if "@" in value:
        name = value["@"]
        cls = TYPES.get(name)
        if cls is None:
            raise ValueError(f"unknown type {name!r} (not an input, output or part of one)")
        kwargs = {k: decode(v) for k, v in value.items() if k != "@"}
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"cannot rebuild {name}: {exc}") from None
    if len(value) == 1:
        (tag, body), = value.items()
        if tag == "@hex":
            return bytes.fromhex(body)
        if tag == "@enum":
            cls_name, _, member = body.partition(".")
            enum_cls = TYPES.get(cls_name)
            if enum_cls is None or not issubclass(enum_cls, enum.Enum):
                raise ValueError(f"unknown enum {body!r}")
            return enum_cls[member]
        if tag == "@family":
            return _FAMILIES[body] if isinstance(body, str) else make_family(*body)
        if tag == "@list":
            return [decode(v) for v in body]
        if tag == "@frozenset":
            return frozenset(decode(v) for v in body)
        if tag == "@set":
            return {decode(v) for v in body}
        if tag == "@dict":
            return {decode(k): decode(v) for k, v in body}
        if tag == "@policy":
            return PolicyBook() if body is None else PolicySource.from_json(body).build()
    return {k: decode(v) for k, v in value.items()}


def _policy_json(book: PolicyBook) -> Any:
    """A policy book as the policy it was compiled from (``config.policy_source``); None for
    the empty book. A book built directly, without a source, has nothing to write."""
    if book.source is not None:
        return book.source.to_json()
    if book.policies or book.global_policy.configures(Direction.IMPORT) \
            or book.global_policy.configures(Direction.EXPORT) or book.rfc8212:
        raise TypeError("the recorder cannot write a PolicyBook built without its source")
    return None


def error_text(exc: BaseException) -> str:
    """How a recording names an exception ``handle`` raised."""
    return f"{type(exc).__name__}: {exc}"


def line(obj: Mapping[str, Any]) -> str:
    """One recording line: keys sorted, compact, no trailing newline."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- writing ------------------------------------------------------------------------------------

class Recorder:
    """Writes a recording (buffered; flushed at most once a second and on ``close``). A
    write that fails (a full disk) stops the recording with one error in the log: the
    daemon never stops for it."""

    BUFFER = 1 << 20
    FLUSH_EVERY = 1.0  # seconds of the owner's clock

    def __init__(self, stream: IO[str], path: str = "", key: bytes | None = None) -> None:
        self.stream = stream
        self.path = path
        self._key = key if key is not None else os.urandom(16)
        self._flushed = 0.0
        self.broken = ""

    @classmethod
    def open(cls, path: str | Path) -> Recorder:
        """Append to ``path`` (OSError if it cannot be opened)."""
        return cls(open(path, "a", encoding="utf-8", buffering=cls.BUFFER), str(path))

    def redact(self, secret: str) -> str:
        return "redacted-" + hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()[:16]

    def _write(self, lines: list[str], now: float | None = None) -> None:
        if self.broken:
            return
        try:
            self.stream.write("".join(s + "\n" for s in lines))
            if now is not None and now - self._flushed >= self.FLUSH_EVERY:
                self._flushed = now
                self.stream.flush()
        except (OSError, TypeError, ValueError) as exc:
            self.broken = str(exc)
            log.error("recording to %s stopped: %s", self.path or "the recording", exc,
                      extra={"event": "record-failed"})

    def begin(self, args: SpeakerArgs) -> None:
        """A new Speaker: its constructor's arguments (the first line of a run)."""
        self._write([line({"speaker": encode(args, self.redact), "version": VERSION})])
        self.flush()

    def step(self, now: float, inp: ev.Input, outputs: list[ev.Output]) -> None:
        """One ``handle(inp, now)`` and what it returned."""
        try:
            lines = [line({"in": encode(inp, self.redact), "t": now})]
            lines += [line({"out": encode(o, self.redact)}) for o in outputs]
        except TypeError as exc:  # a type without a codec: a bug, never a stopped daemon
            self.broken = str(exc)
            log.error("recording to %s stopped: %s", self.path or "the recording", exc,
                      extra={"event": "record-failed"})
            return
        self._write(lines, now)

    def failed(self, now: float, inp: ev.Input, exc: BaseException) -> None:
        """``handle(inp, now)`` raised ``exc``."""
        try:
            head = line({"in": encode(inp, self.redact), "t": now})
        except TypeError:
            head = line({"in": repr(type(inp).__name__), "t": now})
        self._write([head, line({"error": error_text(exc)})], now)

    def call(self, name: str, outputs: list[ev.Output] | None = None, **kwargs: Any) -> None:
        """A Speaker method other than handle that the owner called (see the module doc)."""
        lines = [line({"call": name, **kwargs})]
        lines += [line({"out": encode(o, self.redact)}) for o in outputs or ()]
        self._write(lines)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except OSError as exc:
                self.broken = str(exc)
                log.error("recording to %s stopped: %s", self.path, exc, extra={"event": "record-failed"})

    def close(self) -> None:
        self.flush()
        with contextlib.suppress(OSError):
            self.stream.close()


def recorded(speaker: Speaker, recorder: Recorder) -> Speaker:
    """From now on, every ``speaker.handle`` goes into ``recorder`` (for a Speaker driven
    without the owner: tools/record_scenarios.py and the tests' in-memory networks)."""
    handle = speaker.handle

    def recording(inp: ev.Input, now: float) -> list[ev.Output]:
        try:
            out = handle(inp, now)
        except Exception as exc:
            recorder.failed(now, inp, exc)
            raise
        recorder.step(now, inp, out)
        return out

    setattr(speaker, "handle", recording)  # noqa: B010
    return speaker


# --- reading and replaying ----------------------------------------------------------------------

@dataclass
class Step:
    """One entry of a recording: an input (``inp``, ``t``) or a ``call``, the outputs it
    had (as written: ``expected`` lines), and where it is in the file (1-based ``lineno``)."""

    lineno: int
    head: str  # the input's (or call's) line as written
    expected: list[str]
    inp: Any = None
    t: float = 0.0
    call: str = ""
    on: bool = False


@dataclass
class Segment:
    """One run of the Speaker: how it was built, and its steps."""

    lineno: int
    head: str
    args: SpeakerArgs
    steps: list[Step] = field(default_factory=list)


def read(text: str) -> list[Segment]:
    """The segments of a recording (ValueError with the line number on a bad line)."""
    segments: list[Segment] = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
            if "speaker" in obj:
                args = decode(obj["speaker"])
                if not isinstance(args, SpeakerArgs):
                    raise ValueError("the speaker line holds no SpeakerArgs")
                segments.append(Segment(n, raw, args))
                continue
            if not segments:
                raise ValueError("a recording starts with a speaker line")
            steps = segments[-1].steps
            if "out" in obj or "error" in obj:
                if not steps:
                    raise ValueError("an output before any input")
                steps[-1].expected.append(raw)
            elif "in" in obj:
                steps.append(Step(n, raw, [], inp=decode(obj["in"]), t=float(obj["t"])))
            elif "call" in obj:
                steps.append(Step(n, raw, [], call=obj["call"], on=bool(obj.get("on", False))))
            else:
                raise ValueError("neither speaker, in, out nor call")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {n}: {exc}") from None
    return segments


@dataclass
class Mismatch:
    """The first step whose outputs differ from the recording."""

    segment: Segment
    step: Step
    index: int  # of the step in its segment, from 1
    got: list[str]

    def describe(self, name: str = "recording") -> str:
        s = self.step
        diff = difflib.unified_diff(s.expected, self.got, "expected (recorded)", "got (now)",
                                    lineterm="", n=2)
        return (f"{name}: line {s.lineno}, step {self.index} of the run at line {self.segment.lineno}: "
                f"the outputs differ\n  input: {s.head}\n" + "\n".join(f"  {d}" for d in diff))


def run(segments: list[Segment]) -> Iterator[tuple[Segment, Step, int, list[str]]]:
    """Replay: per segment a Speaker built from its first line, fed every recorded input at
    its recorded time; yields each step with the output lines the Speaker gives now."""
    for seg in segments:
        speaker = seg.args.build()
        now = 0.0
        for i, step in enumerate(seg.steps, 1):
            if step.call == "accept_commands":
                outs: list[Any] = list(speaker.accept_commands())
            elif step.call == "set_debug":  # an older recording's events.DebugLogged
                outs = speaker.handle(ev.DebugLogged(step.on), now)
            elif step.call:
                raise ValueError(f"line {step.lineno}: unknown call {step.call!r}")
            else:
                now = step.t
                try:
                    outs = speaker.handle(step.inp, now)
                except Exception as exc:  # recorded as {"error": ...} if it raised then too
                    yield seg, step, i, [line({"error": error_text(exc)})]
                    continue
            # (no redaction: a recording's secrets are redacted already, written as read)
            yield seg, step, i, [line({"out": encode(o)}) for o in outs]


def replay(text: str) -> Mismatch | None:
    """The first step whose outputs differ from the recorded ones, or None."""
    for seg, step, i, got in run(read(text)):
        if got != step.expected:
            return Mismatch(seg, step, i, got)
    return None


def rebless(text: str) -> str:
    """The recording with every step's outputs replaced by what the Speaker gives now (the
    inputs, times and speaker lines as they were)."""
    segments = read(text)
    out: list[str] = []
    by_segment: dict[int, list[str]] = {}
    for seg, step, _, got in run(segments):
        by_segment.setdefault(seg.lineno, []).extend([step.head, *got])
    for seg in segments:
        out.append(seg.head)
        out += by_segment.get(seg.lineno, [])
    return "".join(s + "\n" for s in out)
