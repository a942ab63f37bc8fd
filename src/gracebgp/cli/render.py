"""Turn API answers into the CLI's table rows and text (pure: no sockets, no terminal).

Every builder takes ``(node, item)`` pairs, where ``node`` is None when one daemon is
asked; with several daemons the tables get a leading ``Node`` column (the fleet view).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from gracebgp.api.schema import (
    Condition,
    Event,
    Global,
    Health,
    MessageCounts,
    PathEntry,
    Peer,
    PeerFamily,
    address_key,
)

T = TypeVar("T")
Answer = tuple[str | None, T]
Rows = list[list[str]]
Pairs = list[tuple[str, str]]

PEER_COLUMNS = ["Peer Address", "Local AS", "Peer AS", "State", "Uptime", "Family",
                "Received", "Accepted", "Advertised", "Stale"]
HEALTH_COLUMNS = ["Type", "Severity", "Subject", "Reason", "Message"]
EVENT_COLUMNS = ["Time", "Kind", "Peer", "Message"]
GLOBAL_COLUMNS = ["AS", "Router ID", "Port", "Uptime", "Peers", "Established", "RIB prefixes/paths"]


def format_duration(seconds: float | None) -> str:
    """``3723`` -> ``1h2m3s``, ``90061`` -> ``1d1h1m1s``; None -> ``-``."""
    if seconds is None:
        return "-"
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, left = divmod(left, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    parts.append(f"{left}s")
    return "".join(parts)


def format_time(stamp: float) -> str:
    """Unix time -> local ``YYYY-MM-DD HH:MM:SS``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def route_flags(entry: PathEntry) -> str:
    """GoBGP-like status: ``*`` valid, ``>`` best, ``=`` another path of the equal-cost
    (multipath) set, ``S`` stale."""
    chosen = ">" if entry.best else "=" if entry.multipath else " "
    return (("*" if entry.rejected is None else " ") + chosen + ("S" if entry.stale else "")).rstrip()


def peer_state(peer: Peer) -> str:
    if peer.admin_down:
        return f"{peer.state} (admin down)"
    if peer.held_down is not None:  # over a prefix limit: back after restart_in or enable
        left = "until enabled" if peer.restart_in is None else f"restart in {peer.restart_in:.0f}s"
        return f"{peer.state} ({peer.held_down}, {left})"
    return peer.state


def _noded(answers: Iterable[Answer[T]], row: Callable[[T], Iterable[list[str]]]) -> Rows:
    rows = []
    for node, item in answers:
        for cells in row(item):
            rows.append(([node] if node is not None else []) + cells)
    return rows


def _headers(answers: Sequence[Answer[object]], columns: Sequence[str]) -> list[str]:
    fleet = any(node is not None for node, _ in answers)
    return (["Node"] if fleet else []) + list(columns)


def peer_rows(answers: Sequence[Answer[list[Peer]]]) -> tuple[list[str], Rows]:
    """One row per peer and family, like ``cilium bgp peers``."""
    def rows(peers: list[Peer]) -> Iterable[list[str]]:
        for peer in sorted(peers, key=lambda p: address_key(p.address)):
            address = f"{peer.address} (dynamic)" if peer.dynamic_range else peer.address
            head = [address, str(peer.local_as), str(peer.peer_as), peer_state(peer),
                    format_duration(peer.uptime)]
            families = sorted(peer.families or [], key=lambda f: f.family)
            if not families:
                yield [*head, "-", "-", "-", "-", "-"]
            for fam in families:
                yield [*head, fam.family, str(fam.received), str(fam.accepted),
                       str(fam.advertised), str(fam.stale)]
    return _headers(answers, PEER_COLUMNS), _noded(answers, rows)


def route_rows(answers: Sequence[Answer[list[PathEntry]]], with_source: bool) -> tuple[list[str], Rows]:
    """``*>``, [ID: the ADD-PATH Path Identifier], Prefix, NextHop, [Peer], Age, Attrs."""
    ids = any(e.path_id is not None for _, entries in answers for e in entries)  # ADD-PATH
    columns = [" ", *(["ID"] if ids else []), "Prefix", "NextHop", *(["Peer"] if with_source else []), "Age",
               "Attrs"]

    def rows(entries: list[PathEntry]) -> Iterable[list[str]]:
        for e in entries:
            attrs = e.attrs_text + (f" (rejected: {e.rejected})" if e.rejected else "")
            source = [e.source or "local"] if with_source else []
            pid = [str(e.path_id) if e.path_id is not None else "-"] if ids else []
            yield [route_flags(e), *pid, e.prefix, ",".join(e.next_hop) or "-", *source,
                   format_duration(e.age), attrs.strip()]
    return _headers(answers, columns), _noded(answers, rows)


def event_text(e: Event) -> str:
    """The message without a leading ``peer ADDR:`` (the Peer column says it)."""
    return e.message.removeprefix(f"peer {e.peer}: ") if e.peer else e.message


def event_rows(answers: Sequence[Answer[list[Event]]]) -> tuple[list[str], Rows]:
    def rows(events: list[Event]) -> Iterable[list[str]]:
        for e in events:
            yield [format_time(e.time), e.kind, e.peer or "-", event_text(e)]
    return _headers(answers, EVENT_COLUMNS), _noded(answers, rows)


def event_line(node: str | None, event: Event) -> str:
    """One followed event: ``time [node] kind peer message``."""
    where = f"{node} " if node is not None else ""
    return f"{format_time(event.time)} {where}{event.kind} {event.peer or '-'} {event_text(event)}"


def health_rows(answers: Sequence[Answer[Health]]) -> tuple[list[str], Rows]:
    """Errors first, then by subject (a peer address sorts as an address)."""
    def rows(health: Health) -> Iterable[list[str]]:
        for c in sorted(health.conditions, key=lambda c: (c.severity != "error", address_key(c.subject),
                                                          c.type)):
            yield condition_cells(c)
    return _headers(answers, HEALTH_COLUMNS), _noded(answers, rows)


def condition_cells(c: Condition) -> list[str]:
    return [c.type, c.severity, c.subject, c.reason, c.message]


def unreachable_health(failures: Sequence[tuple[str, str]]) -> list[Answer[Health]]:
    """A fleet's node that did not answer ``health``: not healthy, and why."""
    return [(node, Health(healthy=False, conditions=[Condition(
        type="NodeUnreachable", severity="error", subject=node, reason="NoAnswer", message=why)]))
        for node, why in failures]


def health_summary(answers: Sequence[Answer[Health]]) -> str:
    """``healthy``; ``all 3 nodes healthy``; ``not healthy: 1 of 3 nodes (c)``."""
    sick = [node or "gracebgpd" for node, h in answers if not h.healthy]
    one = len(answers) == 1 and answers[0][0] is None
    if not sick:
        return "healthy" if one else f"all {len(answers)} nodes healthy"
    if one:
        return "not healthy"
    return f"not healthy: {len(sick)} of {len(answers)} nodes ({', '.join(sick)})"


def _routes_text(g: Global) -> str:
    return ", ".join(f"{r.family} {r.prefixes}/{r.paths}" for r in g.rib) or "-"


def global_rows(answers: Sequence[Answer[Global]]) -> tuple[list[str], Rows]:
    """Several daemons: one row per node."""
    def rows(g: Global) -> Iterable[list[str]]:
        yield [str(g.asn), g.router_id, str(g.listen_port), format_duration(g.uptime),
               str(g.peers), str(g.established), _routes_text(g)]
    return _headers(answers, GLOBAL_COLUMNS), _noded(answers, rows)


def global_pairs(g: Global) -> Pairs:
    """One daemon: a key/value listing."""
    return [
        ("Node", g.node), ("Version", g.version), ("AS", str(g.asn)), ("Router ID", g.router_id),
        ("Listen", f"{', '.join(g.listen_addresses) or '-'} port {g.listen_port}"),
        ("Uptime", format_duration(g.uptime)),
        ("Peers", f"{g.peers} ({g.established} established)"),
        *[(f"Routes {r.family}", f"{r.prefixes} prefixes, {r.paths} paths") for r in g.rib],
        ("SIGTERM", g.sigterm),
        ("Forwarding state preserved", "yes" if g.forwarding_state_preserved else "no"),
    ]


def _maybe(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _counts(m: MessageCounts) -> str:
    return (f"open {m.open}, update {m.update}, notification {m.notification}, "
            f"keepalive {m.keepalive}, route-refresh {m.route_refresh}")


def _family_text(f: PeerFamily) -> str:
    status = "negotiated" if f.negotiated else "configured, not negotiated" if f.configured else "offered"
    limit = f", max-prefixes {f.max_prefixes}" if f.max_prefixes is not None else ""
    return (f"{status}: received {f.received}, accepted {f.accepted}, advertised {f.advertised}, "
            f"stale {f.stale}{limit}")


def peer_pairs(p: Peer) -> Pairs:
    """``gracebgp neighbor ADDR``: one peer in detail."""
    return [
        ("Peer Address", p.address), ("Description", _maybe(p.description)),
        ("Local AS", str(p.local_as)), ("Peer AS", str(p.peer_as)), ("State", peer_state(p)),
        ("Uptime", format_duration(p.uptime)), ("Router ID", _maybe(p.router_id)),
        ("Hold time", _maybe(p.hold_time)), ("Keepalive", _maybe(p.keepalive_time)),
        ("Established", f"{p.established_count} times"), ("Last error", _maybe(p.last_error)),
        ("Dynamic", f"yes, accepted from the dynamic-neighbors range {p.dynamic_range}" if p.dynamic_range
         else "yes, added through the API" if p.dynamic else "no"),
        ("Graceful restart", "yes" if p.graceful_restart else "no"),
        ("Peer restart time", _maybe(p.peer_restart_time)),
        ("Stale routes expire in", format_duration(p.stale_until) if p.stale_until is not None else "-"),
        ("Messages received", _counts(p.messages_received)), ("Messages sent", _counts(p.messages_sent)),
        *[(f"Family {f.family}", _family_text(f)) for f in p.families],
        *([("Configuration", "value <- where it came from")] if p.settings else []),
        *[(f"  {c.key}", f"{c.value}  <- {c.source}") for c in p.settings],
    ]


# --- tables and text ------------------------------------------------------------------


def make_table(headers: Sequence[str], rows: Iterable[Sequence[str]], show_header: bool = True) -> Table:
    """A borderless table in the style of GoBGP's and Cilium's listings."""
    table = Table(box=None, show_header=show_header, header_style="bold", pad_edge=False,
                  padding=(0, 2, 0, 0), show_edge=False)
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: no rich markup in AS paths
    return table


def render_text(renderable: RenderableType, width: int = 1000) -> str:
    """Plain text of a table, trailing blanks removed (for pipes, files and tests)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False,
                      highlight=False, emoji=False)
    with console.capture() as capture:
        console.print(renderable)
    return "\n".join(line.rstrip() for line in capture.get().splitlines()) + "\n"
