"""The API's request and response bodies (layer L0: values only). The HTTP server, the
client and the CLI share these models, so the OpenAPI document, the server's validation
and the client's parsing cannot drift apart (DESIGN.md section 4).

Families are written as GoBGP names them: ``ipv4-unicast``, ``ipv6-unicast``.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

FamilyName = Literal["ipv4-unicast", "ipv6-unicast"]
#: RFC 9003 §2: the shutdown communication is at most 255 octets of UTF-8 (its length
#: field is one octet). Counted in octets: 128 "é" are 256 octets, too long.
SHUTDOWN_MESSAGE_MAX = 255


def shutdown_message_problem(message: str) -> str | None:
    """Why ``message`` cannot be an RFC 9003 shutdown communication, or None. The CLI
    asks this before it sends; the API's models below check the same."""
    try:
        octets = len(message.encode("utf-8"))
    except UnicodeEncodeError:
        return "the shutdown message is not valid UTF-8 (RFC 9003 §2)"
    if octets > SHUTDOWN_MESSAGE_MAX:
        return (f"the shutdown message is {octets} octets of UTF-8; RFC 9003 §2 allows at most "
                f"{SHUTDOWN_MESSAGE_MAX}")
    return None


def address_key(text: str) -> tuple[int, int, str]:
    """Sorts peer addresses as addresses (IPv4 before IPv6, 192.0.2.9 before 192.0.2.10),
    anything else after them by name: the order of every peer listing, API and CLI."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return (7, 0, text)
    return (address.version, int(address), "")


def _shutdown_message(message: str) -> str:
    problem = shutdown_message_problem(message)
    if problem is not None:  # one line, without pydantic's "Value error, " prefix
        raise PydanticCustomError("shutdown_message", problem)
    return message


#: A field holding an RFC 9003 shutdown communication (422 when longer than 255 octets).
ShutdownMessage = Annotated[str, AfterValidator(_shutdown_message), Field(
    json_schema_extra={"maxLength": SHUTDOWN_MESSAGE_MAX},
    description="RFC 9003 shutdown communication: UTF-8, at most 255 octets")]
#: AddPaths / DeletePaths: how many prefixes one call may carry.
MAX_PATHS_PER_CALL = 1_000_000


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiError(Model):
    """Every 4xx/5xx body: one line for a person, and where it applies."""

    error: str
    detail: list[str] = []


# --- peers ------------------------------------------------------------------------------


class MessageCounts(Model):
    open: int = 0
    update: int = 0
    notification: int = 0
    keepalive: int = 0
    route_refresh: int = 0


class PeerFamily(Model):
    """One address family of one peer (a row of ``gracebgp peers``)."""

    family: str
    configured: bool
    negotiated: bool
    received: int = Field(description="routes in the Adj-RIB-In before import checks")
    accepted: int = Field(description="routes that passed import checks (candidates for Loc-RIB)")
    advertised: int = Field(description="routes in the Adj-RIB-Out (sent to the peer)")
    stale: int = Field(description="routes kept stale for graceful restart")
    max_prefixes: int | None = Field(default=None, description="prefix-limit max-prefixes of this "
                                     "family; null: no limit")


class GrFamily(Model):
    family: str
    forwarding: bool = Field(description="F bit: the sender kept its forwarding state for this family")


class GrParams(Model):
    """One side's Graceful Restart capability (RFC 4724 §3, RFC 8538 §2)."""

    restart_state: bool = Field(description="R bit: the sender has just restarted")
    notification: bool = Field(description="N bit: the sender does RFC 8538 (a NOTIFICATION other than "
                                           "Hard Reset keeps the routes, like a TCP loss)")
    restart_time: int = Field(description="seconds the receiver is to keep the sender's routes while it "
                                          "restarts")
    families: list[GrFamily] = Field(description="the families whose routes the receiver is to keep; "
                                                 "empty: the sender is a helper only")


class LlgrFamily(Model):
    family: str
    stale_time: int = Field(description="Long-lived Stale Time: seconds the receiver keeps the routes "
                                        "LLGR-stale after the restart time (RFC 9494)")
    forwarding: bool = Field(description="F bit")


class AddPathFamily(Model):
    family: str
    mode: Literal["receive", "send", "both"] = Field(description="what the sender offers (RFC 7911 §4)")


class Capabilities(Model):
    """The capabilities of one OPEN message (RFC 5492)."""

    four_octet_as: int | None = Field(description="the AS in the 4-octet AS capability (RFC 6793); "
                                                  "null: not sent")
    families: list[str] = Field(description="Multiprotocol (RFC 4760); none sent means ipv4-unicast")
    route_refresh: bool = Field(description="RFC 2918")
    enhanced_route_refresh: bool = Field(description="RFC 7313")
    extended_message: bool = Field(description="RFC 8654: messages up to 65535 octets")
    extended_next_hop: list[str] = Field(description="families offered with an IPv6 next hop (RFC 8950)")
    add_path: list[AddPathFamily] = Field(description="ADD-PATH (RFC 7911) per family")
    graceful_restart: GrParams | None = Field(description="null: not sent")
    llgr: list[LlgrFamily] | None = Field(description="Long-Lived GR (RFC 9494) per family; null: not sent")
    hostname: str | None = Field(description="the FQDN capability's host name (and .domain)")
    other: list[int] = Field(description="codes of capabilities gracebgp does not know")


class Negotiation(Model):
    """What both OPENs decided: a capability is used when both sides sent it (RFC 5492 §3)."""

    four_octet_as: bool
    families: list[str]
    route_refresh: bool
    enhanced_route_refresh: bool
    extended_message: bool
    extended_next_hop: list[str]
    add_path_send: list[str] = Field(description="families we send with Path Identifiers")
    add_path_receive: list[str] = Field(description="families the peer sends with Path Identifiers")
    notification: bool = Field(description="N sent and received: RFC 8538 applies to this session")
    gr_we_keep: list[str] = Field(description="families whose routes we keep when the peer restarts")
    gr_peer_keeps: list[str] = Field(description="families whose routes the peer keeps when we restart")
    llgr_we_keep: list[str] = Field(description="families we keep LLGR-stale after the restart time")
    llgr_peer_keeps: list[str] = Field(description="families the peer keeps LLGR-stale after our "
                                                   "restart time")


class PeerSetting(Model):
    """One configured value of a peer (``gracebgp neighbor ADDR``)."""

    key: str = Field(description="GoBGP's key path in the neighbor section, e.g. timers.config.hold-time")
    value: str = Field(description="as text; secrets only say whether one is set")
    source: str = Field(description="\"neighbor, line N\", \"peer group 'G', line N\", "
                                    "\"dynamic-neighbors range P, line N\" or \"default\"")


class Peer(Model):
    address: str
    description: str = ""
    local_as: int
    peer_as: int
    state: str = Field(description="Idle, Connect, Active, OpenSent, OpenConfirm or Established")
    admin_down: bool
    dynamic: bool = Field(description="not a configured neighbor: added through the API, or accepted from "
                          "a [[dynamic-neighbors]] range (dynamic_range)")
    dynamic_range: str | None = Field(default=None, description=(
        "the [[dynamic-neighbors]] prefix the peer was accepted from (null for other peers); such a peer "
        "is forgotten when its session is gone, or after its graceful restart when one keeps it"))
    uptime: float | None = Field(description="seconds Established, null when not Established")
    router_id: str | None = Field(description="the peer's BGP Identifier once Established")
    hold_time: int | None = None
    keepalive_time: int | None = None
    established_count: int = Field(description="how often the session came up")
    last_error: str = Field(description="why the session last went down or failed to come up")
    families: list[PeerFamily]
    messages_received: MessageCounts
    messages_sent: MessageCounts
    graceful_restart: bool = Field(description="we advertise the GR capability to this peer")
    peer_restart_time: int | None = Field(description="Restart Time in the peer's GR capability")
    stale_until: float | None = Field(description="seconds until the stale routes of this peer go")
    held_down: Literal["prefix-limit"] | None = Field(
        default=None, description="prefix-limit: the peer sent more routes than a family's max-prefixes; "
                                  "the session stays down until restart_in runs out or EnablePeer")
    restart_in: float | None = Field(default=None, description="seconds until a held-down session "
                                     "starts again (restart-timer); null: until EnablePeer")
    local_capabilities: Capabilities | None = Field(
        default=None, description="our OPEN: as sent on the current session, else as it would be sent now")
    peer_capabilities: Capabilities | None = Field(
        default=None, description="the peer's OPEN on the current session; null when not Established")
    negotiated: Negotiation | None = Field(default=None, description="null when not Established")
    settings: list[PeerSetting] = Field(default_factory=list, description=(
        "GetPeer only: every configuration key the peer runs with, its value and where it came "
        "from (the neighbor's line, its peer group's, a dynamic-neighbors range, or the default); "
        "empty for a peer added through the API"))


class PeerAdd(Model):
    """AddPeer: the keys of ``[[neighbors]]`` an operator sets most, in snake_case."""

    address: str = Field(description="neighbor-address")
    peer_as: int = Field(ge=1, le=0xFFFFFFFF)
    local_as: int | None = Field(default=None, ge=1, le=0xFFFFFFFF)
    description: str = Field(default="", max_length=256)
    families: list[FamilyName] = Field(default=[], max_length=2,
                                       description="empty: the family of the address")
    passive: bool = False
    port: int = Field(default=179, ge=1, le=0xFFFF)
    local_address: str | None = None
    hold_time: int = Field(default=90, ge=0, le=0xFFFF)
    connect_retry: int = Field(default=120, ge=1, le=0xFFFF)
    ebgp_multihop_ttl: int | None = Field(default=None, ge=1, le=255)
    route_reflector_client: bool = False
    graceful_restart: bool = False
    restart_time: int | None = Field(default=None, ge=0, le=4095)
    admin_down: bool = False


class PeerShutdown(Model):
    message: ShutdownMessage = ""


class PeerReset(Model):
    mode: Literal["hard", "soft", "soft-in", "soft-out"] = Field(
        default="hard",
        description="hard: the session restarts (Cease/Administrative Reset, sent plain: a peer that "
                    "negotiated graceful restart with the N bit keeps our routes meanwhile, RFC 8538 "
                    "§4; this name is not RFC 8538's Hard Reset, see hard_reset); soft-in: ask the peer "
                    "to resend (ROUTE-REFRESH); soft-out: resend our routes; soft: both")
    message: ShutdownMessage = ""
    hard_reset: bool = Field(default=False, description="mode hard only: send the Cease wrapped in "
                             "Hard Reset (RFC 8538 §3), so the peer deletes our routes at once")

    @model_validator(mode="after")
    def _hard_reset_restarts(self) -> PeerReset:
        if self.hard_reset and self.mode != "hard":
            raise PydanticCustomError("hard_reset", "hard_reset goes with mode hard (a Hard Reset restarts "
                                      "the session), not with {mode}", {"mode": self.mode})
        return self


class Done(Model):
    """A command was carried out."""

    ok: bool = True
    message: str = ""


# --- paths ----------------------------------------------------------------------------


class PathSpec(Model):
    """One route to originate (``gracebgp rib add``)."""

    prefix: str = Field(max_length=64, examples=["192.0.2.0/24"])
    next_hop: str | None = Field(default=None, max_length=64,
                                 description="null: next-hop-self (the session's local address)")
    origin: Literal["igp", "egp", "incomplete"] = "igp"
    communities: list[str] = Field(default=[], max_length=512, examples=[["65000:100"]])
    large_communities: list[str] = Field(default=[], max_length=512, examples=[["65000:1:2"]])
    med: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)
    local_pref: int | None = Field(default=None, ge=0, le=0xFFFFFFFF)


class PathsAdd(Model):
    paths: list[PathSpec] = Field(max_length=MAX_PATHS_PER_CALL)


class PathsDelete(Model):
    prefixes: list[str] = Field(max_length=MAX_PATHS_PER_CALL)


class PathsChanged(Model):
    changed: int = Field(description="routes added (or replaced), or deleted")
    unchanged: int = Field(default=0, description="AddPaths: identical to what was there; "
                                                   "DeletePaths: prefixes that were not there")


class PathEntry(Model):
    """One line of the NDJSON ListPaths stream."""

    prefix: str
    family: str
    next_hop: list[str]
    source: str | None = Field(description="the peer it came from; null for a local route")
    best: bool
    multipath: bool = Field(default=False, description=(
        "Loc-RIB: in the prefix's equal-cost set, the paths that carry traffic "
        "([global.use-multiple-paths]; without it, the best alone)"))
    path_id: int | None = Field(default=None, description=(
        "ADD-PATH (RFC 7911) Path Identifier: the source's for a received path, ours for an "
        "advertised one; null without ADD-PATH"))
    stale: bool
    rejected: str | None = Field(default=None, description="why import refused it (Adj-RIB-In pre-policy)")
    age: float | None = Field(description="seconds since it was learned or last changed")
    attrs: dict[str, Any] = Field(description="decoded path attributes")
    attrs_text: str


# --- global, health, events ---------------------------------------------------------------


class RibSize(Model):
    family: str
    prefixes: int
    paths: int


class Global(Model):
    version: str
    node: str
    asn: int
    router_id: str
    listen_port: int
    listen_addresses: list[str]
    uptime: float
    peers: int
    established: int
    rib: list[RibSize]
    sigterm: Literal["retain", "withdraw"]
    forwarding_state_preserved: bool


class Condition(Model):
    """Something that needs an operator (like a Kubernetes status condition)."""

    type: str
    severity: Literal["warning", "error"]
    subject: str = Field(description="the peer address, file or setting it is about")
    reason: str
    message: str


class Health(Model):
    healthy: bool
    conditions: list[Condition]


class Event(Model):
    """One entry of the WatchEvents stream (``data:`` of a server-sent event)."""

    seq: int
    time: float = Field(description="Unix time")
    kind: str = Field(description="peer-state, peer-added, peer-removed, route, restart, command, reload, "
                                  "prefix-limit")
    peer: str | None = None
    message: str
    data: dict[str, Any] = {}


# --- restarts, stop, drain (spec/graceful-restart.md sections 3-6, 8) -------------------

class StopRequest(Model):
    """How to stop: ``withdraw`` true, peers delete our routes now (Cease, Hard Reset where
    RFC 8538 N was negotiated); false, peers keep them for our Restart Time (GR)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # false is not 0

    withdraw: bool = True
    message: ShutdownMessage = ""


class DrainRequest(Model):
    """RFC 8326 drain. ``delay`` (s) between GRACEFUL_SHUTDOWN and withdrawal; default from
    ``[gracebgp] drain-delay``. ``wait``: answer when the withdrawals have left our sockets.
    ``cancel``: end a drain and advertise normally again."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # false is not 0

    delay: float | None = Field(default=None, ge=0, le=3600)
    wait: bool = False
    cancel: bool = False


class DrainResult(Model):
    phase: Literal["gshut", "withdrawn"] | None = Field(description="None: not draining")
    changed: int = Field(description="route advertisements changed by this call")
    waited: float | None = Field(default=None, description="seconds --wait waited")
    unsent_bytes: int | None = Field(default=None, description="octets still queued when it returned")
    message: str = ""


class Waiting(Model):
    peer: str
    reason: str = Field(description="End-of-RIB, or not Established yet")


class DeferralFamily(Model):
    """Selection deferral of one family after our restart (RFC 4724 §4.1, spec section 4)."""

    family: str
    deferring: bool
    waiting_for: list[Waiting]
    eor_received_from: list[str]
    deferral_expires_in: float | None = Field(description="seconds until the deferral timer fires")
    selection_done_after: float | None = Field(description="seconds after start selection ran")
    reason: str | None = Field(description="why selection ran (all EoRs, or the timer)")


class HelperFamily(Model):
    family: str
    phase: Literal["stale", "llgr-stale", "await-eor"]
    stale: int = Field(description="routes still stale")


class HelperPeer(Model):
    """A peer whose routes we keep while it restarts (spec sections 3 and 5)."""

    peer: str
    state: str
    families: list[HelperFamily]
    restart_timer_in: float | None
    stale_timer_in: float | None
    llgr_timer_in: dict[str, float]


class ForwardingFamily(Model):
    """The F bit we advertise for a family (RFC 4724 §3) and why (issue 17)."""

    family: str
    forwarding: bool
    reason: str


class GrStatus(Model):
    """GetGrStatus: our own restart (R bit, deferral), our helper episodes, and why the F
    bit is what it is."""

    restart: Literal["cold", "planned", "unplanned", "handover"]
    detail: str
    restart_bit: bool = Field(description="R=1 in the OPENs we send now")
    deferral: list[DeferralFamily]
    helper: list[HelperPeer]
    drain: Literal["gshut", "withdrawn"] | None
    forwarding: list[ForwardingFamily] = Field(default_factory=list,
                                               description="the F bit per family and why")


class Timeline(Model):
    """GetTimeline: the events of the last restart of this speaker (or, with ``peer``, of
    that peer's last graceful-restart episode), oldest first; ``t`` offsets in seconds."""

    restart: str
    start: float | None = Field(description="Unix time of the first event")
    events: list[Event]

    def lines(self) -> list[str]:
        """As ``gracebgp timeline`` prints it (the demo prints the same): one line per
        event, its offset from the first one, and ``[previous process]`` for events of the
        process that restarted."""
        if not self.events or self.start is None:
            return ["no events yet"]
        first = datetime.fromtimestamp(self.start).isoformat(sep=" ", timespec="milliseconds")
        lines = [f"timeline ({self.restart}), from {first}:"]
        for e in self.events:
            event = str(e.data.get("event", e.kind))
            prev = " [previous process]" if e.data.get("previous_run") else ""
            lines.append(f"  +{e.time - self.start:9.3f}s  {event:<17} {e.message}{prev}")
        return lines
