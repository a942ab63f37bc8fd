"""An in-memory network of Speakers: Connect/Send/Close outputs become the other side's
Connected/Received/Disconnected inputs, with a fake clock. No sockets."""

from __future__ import annotations

from dataclasses import dataclass, field

from gracebgp.core import events as ev
from gracebgp.core.speaker import Speaker


@dataclass
class Link:
    a: tuple[str, str, int]  # (speaker name, peer name in that speaker, conn)
    b: tuple[str, str, int]


@dataclass
class SpeakerNet:
    speakers: dict[str, Speaker] = field(default_factory=dict)  # by address
    now: float = 1000.0
    links: list[Link] = field(default_factory=list)
    logs: list[tuple[str, ev.Log]] = field(default_factory=list)
    replies: list[tuple[str, ev.Reply]] = field(default_factory=list)
    notices: list[tuple[str, ev.Notice]] = field(default_factory=list)
    down: set[str] = field(default_factory=set)  # speakers whose "host" is unreachable
    queue: list[tuple[str, ev.Input]] = field(default_factory=list)  # (speaker, input), next first
    _next_conn: int = 5_000_000

    def add(self, address: str, speaker: Speaker) -> Speaker:
        self.speakers[address] = speaker
        self.queue.append((address, ev.Started()))
        return speaker

    def far_end(self, name: str, peer: str, conn: int) -> tuple[str, str, int] | None:
        """The other end (speaker, peer, conn) of ``name``'s connection, if linked."""
        for link in self.links:
            if link.a == (name, peer, conn):
                return link.b
            if link.b == (name, peer, conn):
                return link.a
        return None

    def execute(self, name: str, out: ev.Output) -> None:
        """Carry out one output of ``name`` as the runtime would (subclasses add to it)."""
        if isinstance(out, ev.Log):
            self.logs.append((name, out))
        elif isinstance(out, ev.Reply):
            self.replies.append((name, out))
        elif isinstance(out, ev.Notice):
            self.notices.append((name, out))
        elif isinstance(out, ev.Connect):
            target = self.speakers.get(out.host)
            if target is None or out.host in self.down or name in self.down:
                self.queue.append((name, ev.ConnectFailed(out.peer, out.conn, "unreachable")))
                return
            self._next_conn += 1
            far = (out.host, name, self._next_conn)
            if target.peer_for(name) is None:
                self.queue.append((name, ev.ConnectFailed(out.peer, out.conn, "refused")))
                return
            self.links.append(Link((name, out.peer, out.conn), far))
            self.queue.append((name, ev.Connected(out.peer, out.conn, name, outgoing=True)))
            self.queue.append((out.host, ev.Connected(name, far[2], out.host, outgoing=False)))
        elif isinstance(out, ev.Send):
            other = self.far_end(name, out.peer, out.conn)
            if other is not None:
                self.queue.append((other[0], ev.Received(other[1], other[2], out.data)))
        elif isinstance(out, ev.Close):
            other = self.far_end(name, out.peer, out.conn)
            self.links = [lk for lk in self.links if (name, out.peer, out.conn) not in (lk.a, lk.b)]
            if other is not None:
                self.queue.append((other[0], ev.Disconnected(other[1], other[2], "closed by peer")))
                # the runtime reports our own closed connections too (connection_lost)
                self.queue.append((name, ev.Disconnected(out.peer, out.conn, "closed")))

    def cut(self, address: str) -> None:
        """The host at ``address`` vanishes: its links drop (the peers see TCP fail)."""
        for link in list(self.links):
            for mine, theirs in ((link.a, link.b), (link.b, link.a)):
                if mine[0] == address:
                    self.queue.append((theirs[0], ev.Disconnected(theirs[1], theirs[2], "reset")))
                    self.links.remove(link)
                    break
        self.down.add(address)

    def run(self, limit: int = 100_000) -> None:
        """Deliver until nothing is left, draining each speaker after its inputs."""
        for _ in range(limit):
            if not self.queue:  # as the owner: InputDrained, then the next slice of work
                outs = [(n, s.handle(ev.InputDrained(), self.now)) for n, s in self.speakers.items()
                        if n not in self.down]
                for n, o in outs:
                    for x in o:
                        self.execute(n, x)
                busy = [n for n, s in self.speakers.items() if n not in self.down and s.pending()]
                self.queue += [(n, ev.Continue()) for n in busy]
                if not busy and not any(o for _, o in outs):
                    return
                continue
            name, inp = self.queue.pop(0)
            if name in self.down:
                continue
            for out in self.speakers[name].handle(inp, self.now):
                self.execute(name, out)
        raise AssertionError("network did not settle")

    def command(self, address: str, command: object) -> ev.Reply:
        """An operator command to the speaker at ``address``; runs the network until it
        settles and returns the speaker's Reply."""
        ref = len(self.replies) + 1
        self.queue.append((address, ev.CommandRequested(ref, command)))
        self.run()
        return next(r for n, r in self.replies if n == address and r.ref == ref)

    def advance(self, seconds: float, step: float = 1.0) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            for name, s in self.speakers.items():
                d = s.next_deadline()
                if name not in self.down and d is not None and d <= self.now:
                    self.queue.append((name, ev.TimerDue()))
            self.run()


def count_inputs(speaker: Speaker) -> list[str]:
    """From now on, the name of every input ``speaker`` handles (e.g. to count the
    ``Continue`` steps of work done in slices)."""
    seen: list[str] = []
    handle = speaker.handle

    def counted(inp: ev.Input, now: float) -> list[ev.Output]:
        seen.append(type(inp).__name__)
        return handle(inp, now)

    setattr(speaker, "handle", counted)  # noqa: B010
    return seen
