"""Nothing accepted is ignored (issue 11, deliverable 1): every field of the configuration
model (config/model.py, config/extras.py, walked with their nested models) has a consumer
that a test can see.

Each field has a ``Probe``: how an operator writes a non-default value (an edit of
``BASE``, a real file in GoBGP's schema), and an ``effect``: what a consumer does with
the configuration, observed as far down as a unit test can reach without sockets: the
OPEN we send, the speaker's connect commands, its timers, what it answers to a reset,
the API's peer listing, the daemon's listeners, the routes it originates. The test parses
``BASE`` and the edited file and requires (1) that the edit changed that field (the probe
aims at the field it is filed under) and (2) that the effect differs. A value gracebgp
does not implement is a probe whose edit must be refused, naming the key.

Where the effect is a setting handed to code that only acts later (a timer, an I/O
path), the probe also names the module that reads it (``read_by``), and the test checks
that the module does. A field of the model without a probe, or a probe for a field that
no longer exists, fails the walk. ``INFORMATIONAL`` is the allow-list of fields whose
only job is to be shown; it is empty: even ``description`` is checked in ListPeers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from gracebgp.api.service import peer_view
from gracebgp.config import Config, ConfigError, Neighbor, parse
from gracebgp.config.policy_model import ApplyPolicyConfig
from gracebgp.config.schema import CONFIG, Section
from gracebgp.core import events as ev
from gracebgp.core.commands import ResetPeer
from gracebgp.core.peer import NeighborSettings
from gracebgp.core.speaker import Speaker
from gracebgp.policy.book import ApplyPolicy
from gracebgp.runtime.bfdlink import wanted_sessions
from gracebgp.runtime.fromconfig import build_speaker, listen_addresses, neighbors_of
from gracebgp.session import build_open, check_open, negotiate
from gracebgp.wire import CapabilitiesParam, FourOctetAs, Multiprotocol, Open

from .policy_effect import policy_effect

SRC = Path(__file__).parents[3] / "src" / "gracebgp"
KEY_FILE = Path(__file__).parent / "fixtures" / "walk_md5.key"  # a TCP MD5 key in a file
TLS_CERT = Path(__file__).parent / "fixtures" / "walk_tls.crt"  # self-signed, for api-tls-*
TLS_KEY = Path(__file__).parent / "fixtures" / "walk_tls.key"
NOW = 1000.0
PEER = "192.0.2.2"

#: Fields that only inform (shown, never acted on), with the reason. None so far.
INFORMATIONAL: dict[str, str] = {}

#: Routing policy (issue 16): one statement per condition, each seen in the trace.
POLICY_BASE = """
[global.apply-policy.config]
import-policy-list = []
export-policy-list = ["pol-walk"]
default-import-policy = "reject-route"
default-export-policy = "reject-route"

[[defined-sets.prefix-sets]]
prefix-set-name = "ps-pods"
[[defined-sets.prefix-sets.prefix-list]]
ip-prefix = "10.1.0.0/16"
masklength-range = "16..24"
[[defined-sets.neighbor-sets]]
neighbor-set-name = "ns-peers"
neighbor-info-list = ["192.0.2.2/32"]
[[defined-sets.bgp-defined-sets.community-sets]]
community-set-name = "cs-one"
community-list = ["65002:1"]
[[defined-sets.bgp-defined-sets.ext-community-sets]]
ext-community-set-name = "es-one"
ext-community-list = ["rt:65002:1"]
[[defined-sets.bgp-defined-sets.large-community-sets]]
large-community-set-name = "ls-one"
large-community-list = ["65002:1:1"]
[[defined-sets.bgp-defined-sets.as-path-sets]]
as-path-set-name = "as-one"
as-path-list = ["^65002_"]

[[policy-definitions]]
name = "pol-walk"
[[policy-definitions.statements]]
name = "st-prefix"
[policy-definitions.statements.conditions.match-prefix-set]
prefix-set = "ps-pods"
match-set-options = "any"
[policy-definitions.statements.actions.bgp-actions]
set-med = "+1"
[[policy-definitions.statements]]
name = "st-neighbor"
[policy-definitions.statements.conditions.match-neighbor-set]
neighbor-set = "ns-peers"
match-set-options = "any"
[policy-definitions.statements.actions.bgp-actions]
set-local-pref = 150
[[policy-definitions.statements]]
name = "st-comm"
[policy-definitions.statements.conditions.bgp-conditions.match-community-set]
community-set = "cs-one"
match-set-options = "any"
[policy-definitions.statements.actions.bgp-actions.set-community]
options = "add"
[policy-definitions.statements.actions.bgp-actions.set-community.set-community-method]
communities-list = ["65001:100"]
[[policy-definitions.statements]]
name = "st-ext"
[policy-definitions.statements.conditions.bgp-conditions.match-ext-community-set]
ext-community-set = "es-one"
match-set-options = "any"
[policy-definitions.statements.actions.bgp-actions.set-ext-community]
options = "add"
[policy-definitions.statements.actions.bgp-actions.set-ext-community.set-ext-community-method]
communities-list = ["rt:65001:100"]
[[policy-definitions.statements]]
name = "st-large"
[policy-definitions.statements.conditions.bgp-conditions.match-large-community-set]
large-community-set = "ls-one"
match-set-options = "any"
[policy-definitions.statements.actions.bgp-actions.set-large-community]
options = "add"
[policy-definitions.statements.actions.bgp-actions.set-large-community.set-large-community-method]
communities-list = ["65001:1:100"]
[[policy-definitions.statements]]
name = "st-aspath"
[policy-definitions.statements.conditions.bgp-conditions.match-as-path-set]
as-path-set = "as-one"
match-set-options = "any"
[policy-definitions.statements.actions.bgp-actions.set-as-path-prepend]
as = "65001"
repeat-n = 1
[[policy-definitions.statements]]
name = "st-length"
[policy-definitions.statements.conditions.bgp-conditions.as-path-length]
operator = "eq"
value = 1
[[policy-definitions.statements]]
name = "st-count"
[policy-definitions.statements.conditions.bgp-conditions.community-count]
operator = "eq"
value = 5
[[policy-definitions.statements]]
name = "st-type"
[policy-definitions.statements.conditions.bgp-conditions]
route-type = "external"
[[policy-definitions.statements]]
name = "st-family"
[policy-definitions.statements.conditions.bgp-conditions]
afi-safi-in-list = ['ipv4-unicast']
[[policy-definitions.statements]]
name = "st-nexthop"
[policy-definitions.statements.conditions.bgp-conditions]
next-hop-in-list = ["192.0.2.0/24"]
[policy-definitions.statements.actions.bgp-actions]
set-next-hop = "self"
[[policy-definitions.statements]]
name = "st-last"
[policy-definitions.statements.conditions.bgp-conditions]
next-hop-in-list = ["192.0.2.9"]
[policy-definitions.statements.actions]
route-disposition = "accept-route"
"""

BASE = """\
[global.config]
as = 65001
router-id = "192.0.2.1"
port = 179
local-address-list = ["0.0.0.0", "::"]
[global.route-selection-options.config]
always-compare-med = false
[global.use-multiple-paths.config]
enabled = false
[global.use-multiple-paths.ebgp.config]
allow-multiple-as = false
maximum-paths = 0
[global.use-multiple-paths.ibgp.config]
maximum-paths = 0
[[global.afi-safis]]
[global.afi-safis.config]
afi-safi-name = 'ipv4-unicast'  # a literal string: the neighbor's spelling stays unique
[global.afi-safis.use-multiple-paths.config]
enabled = false
[global.afi-safis.use-multiple-paths.ebgp.config]
allow-multiple-as = false
maximum-paths = 0
[global.afi-safis.use-multiple-paths.ibgp.config]
maximum-paths = 0

[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.2"
peer-as = 65002
description = "uplink"
admin-down = false
auth-password = ""
[neighbors.timers.config]
hold-time = 90
keepalive-interval = 30
connect-retry = 120
idle-hold-time-after-reset = 0
[neighbors.transport.config]
passive-mode = false
remote-port = 179
[neighbors.ebgp-multihop.config]
enabled = true
multihop-ttl = 255
[neighbors.add-paths.config]
receive = false
send-max = 0
[neighbors.graceful-restart.config]
enabled = true
restart-time = 90
helper-only = false
deferral-time = 360
notification-enabled = false
long-lived-enabled = true
stale-routes-time = 360
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv4-unicast"
enabled = true
[neighbors.afi-safis.mp-graceful-restart.config]
enabled = true
[neighbors.afi-safis.long-lived-graceful-restart.config]
enabled = true
restart-time = 3600
[neighbors.afi-safis.add-paths.config]
receive = false
send-max = 0
[[neighbors.afi-safis]]
[neighbors.afi-safis.config]
afi-safi-name = "ipv6-unicast"
enabled = true
[neighbors.apply-policy.config]
import-policy-list = ["pol-walk"]
export-policy-list = []
default-import-policy = "accept-route"
default-export-policy = "accept-route"

[[neighbors]]
[neighbors.config]
neighbor-address = "192.0.2.3"
peer-as = 65001
[neighbors.route-reflector.config]
route-reflector-client = true
route-reflector-cluster-id = "192.0.2.1"

[gracebgp]
state-dir = "/var/lib/gracebgp"
api-socket = "/run/gracebgp/gracebgpd.sock"
api-token-file = "/etc/gracebgp/token"
sigterm = "retain"
forwarding-state-preserved = true
drain-delay = 10
establish-wait = 30
llgr-to-ibgp = false
provisional-hard-reset = false
rfc8212 = false

[[gracebgp.routes]]
prefix = "198.51.100.0/24"
origin = "igp"
communities = []
large-communities = []
""" + POLICY_BASE


# --- what consumers do with a configuration ----------------------------------------------------

def _speaker(cfg: Config) -> Speaker:
    return build_speaker(cfg)  # as gracebgpd builds it


def _started(cfg: Config) -> tuple[Speaker, list[ev.Output]]:
    sp = _speaker(cfg)
    return sp, sp.handle(ev.Started(), NOW)


def _commands(out: list[ev.Output]) -> list[ev.Output]:
    """The socket commands (connect, listener keys), as the runtime gets them: compared
    whole, TCP-AO keys included (their repr hides them)."""
    return [o for o in out if type(o).__name__ in ("Connect", "AcceptFrom")]


def _their_open(hold: int = 90) -> Open:
    caps = (Multiprotocol(1, 1), Multiprotocol(2, 1), FourOctetAs(65002))
    return Open(65002, hold, "10.9.9.9", (CapabilitiesParam(caps),))


def our_opens(cfg: Config) -> list[bytes]:
    """The OPEN each session sends."""
    return [build_open(s.session).encode() for s in neighbors_of(cfg)]


def open_checks(cfg: Config) -> list[object]:
    """How each session answers the same OPEN from AS 65002 (RFC 4271 §6.2)."""
    return [check_open(s.session, _their_open()) for s in neighbors_of(cfg)]


def keepalives(cfg: Config) -> list[int]:
    """The keepalive interval each session runs with against a 90 s peer."""
    return [negotiate(s.session, build_open(s.session), _their_open()).keepalive_time
            for s in neighbors_of(cfg)]


def start_commands(cfg: Config) -> list[ev.Output]:
    return _commands(_started(cfg)[1])


def connect_retry(cfg: Config) -> float | None:
    """When the speaker tries again after the connection attempts failed."""
    sp, out = _started(cfg)
    for o in out:
        if isinstance(o, ev.Connect):
            sp.handle(ev.ConnectFailed(o.peer, o.conn, "refused"), NOW)
    deadline = sp.next_deadline()
    return None if deadline is None else deadline - NOW


def reset_answer(cfg: Config) -> tuple[list[str], list[ev.Output], float | None]:
    """ResetPeer hard: the reply, whether it connects at once, when it will."""
    sp, _ = _started(cfg)
    out = sp.handle(ev.CommandRequested(1, ResetPeer(PEER, "hard")), NOW)
    return [o.message for o in out if isinstance(o, ev.Reply)], _commands(out), sp.next_deadline()


def peer_listing(cfg: Config) -> list[object]:
    """ListPeers as the API answers it."""
    sp = _speaker(cfg)
    return [peer_view(sp, p, NOW) for p in sp.peers.values()]


def deferral(cfg: Config) -> str:
    """Selection deferral after a planned restart (RFC 4724 §4.1)."""
    sp = _speaker(cfg)
    sp.handle(ev.Started("planned", "test"), NOW)
    return repr(sp.deferral)


def originated(cfg: Config) -> list[object]:
    sp = _speaker(cfg)
    return [(f, k, p.next_hop, p.attrs.attrs) for (f, k), p in sorted(sp.local_routes.items())]


def route_selection(cfg: Config) -> list[bool]:
    return [loc.always_compare_med for loc in _speaker(cfg).loc.values()]


def multipaths(cfg: Config) -> list[object]:
    return [loc.multipath for loc in _speaker(cfg).loc.values()]


MP_ON = ("enabled = false\n[global.use-multiple-paths.ebgp",
         "enabled = true\n[global.use-multiple-paths.ebgp")


def mp(old: str, new: str) -> Probe:
    """A [global.use-multiple-paths] key, with multipath enabled on both sides."""
    return Probe(((old, new),), multipaths, None, (MP_ON,))


G_MP, AF_MP = "[global.use-multiple-paths", "[global.afi-safis.use-multiple-paths"
AF_MP_ON = (f"enabled = false\n{AF_MP}.ebgp", f"enabled = true\n{AF_MP}.ebgp")


def af_mp(old: str, new: str) -> Probe:
    """A key of ipv4-unicast's own use-multiple-paths, with that block enabled on both sides."""
    return Probe(((old, new),), multipaths, ("runtime/fromconfig.py", "af.multipath"), (AF_MP_ON,))


def setting(name: str) -> Callable[[Config], object]:
    """A per-neighbor setting the speaker acts on later (see ``read_by``)."""
    return lambda cfg: [getattr(s, name) for s in neighbors_of(cfg)]


def speaker_attr(name: str) -> Callable[[Config], object]:
    return lambda cfg: getattr(_speaker(cfg), name)


def runtime_only(cfg: Config) -> None:
    """Read by the daemon's I/O code only (``read_by``); nothing to observe in memory."""
    return None


# --- probes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """``edit``: (text of BASE, replacement) pairs that set a non-default value;
    ``effect``: what a consumer does with the configuration (None: the edit must be
    refused, at this key); ``read_by``: (module under src/gracebgp, text) that must occur
    there, for effects observed at a setting; ``base``: extra edits for both sides."""

    edit: tuple[tuple[str, str], ...]
    effect: Callable[[Config], object] | None
    read_by: tuple[str, str] | None = None
    base: tuple[tuple[str, str], ...] = ()


def p(old: str, new: str, effect: Callable[[Config], object] | None, read_by: tuple[str, str] | None = None,
      *more: tuple[str, str]) -> Probe:
    """Replace ``old`` by ``new`` (and the ``more`` pairs, in order)."""
    return Probe(((old, new), *more), effect, read_by)


def kv(key: str, old: object, new: object, effect: Callable[[Config], object] | None,
       read_by: tuple[str, str] | None = None) -> Probe:
    """``key = old`` becomes ``key = new`` (values as TOML text)."""
    return p(f"{key} = {old}", f"{key} = {new}", effect, read_by)


V4_ADD_PATHS = "[neighbors.afi-safis.add-paths.config]\nreceive = false\nsend-max = 0\n"
MULTIHOP = "[neighbors.ebgp-multihop.config]\nenabled = true\nmultihop-ttl = 255\n"
PORT = "remote-port = 179\n"  # in [neighbors.transport.config]
GTSM_OFF = "[neighbors.ttl-security.config]\nenabled = false\nttl-min = 255\n"  # ebgp-multihop excludes GTSM
LIMIT = ("[neighbors.afi-safis.prefix-limit.config]\n"
         "max-prefixes = 100\nshutdown-threshold-pct = 0\nrestart-timer = 0\n")


#: Where the speaker hands the neighbor's export options to its ExportPolicy (rib/export.py).
EXPORT_OPTIONS = ("core/speaker.py", "**peer.settings.export_options()")


def limit(probe: Probe) -> Probe:
    """The probe on a file whose IPv4 afi-safi has a prefix limit (threshold and timer need one)."""
    return replace(probe, base=((V4_ADD_PATHS, V4_ADD_PATHS + LIMIT),))
ROUTE = 'origin = "igp"\n'
GR = "neighbors.graceful_restart."
AF = "neighbors.afi_safis."
MP_GR = "[neighbors.afi-safis.mp-graceful-restart.config]\nenabled"
AF_LLGR = "[neighbors.afi-safis.long-lived-graceful-restart.config]\nenabled"

TIMERS = "[neighbors.timers.config]\n"
AO_KEY = ('[[neighbors.gracebgp.tcp-ao-keys]]\nsend-id = 1\nrecv-id = 1\nalgorithm = "hmac-sha-1-96"\n'
          'secret = "k"\n')


def ao(old: str, new: str, *, current: bool = False) -> Probe:
    """A probe on a file whose first neighbor has one TCP-AO key (``current``: and a second
    key, the first one current)."""
    block = AO_KEY + (AO_KEY.replace("= 1", "= 2").replace('"k"', '"k2"') if current else "")
    head = "[neighbors.gracebgp]\ntcp-ao-current-key = 1\n" if current else ""
    return Probe(((old, new),), start_commands, base=((TIMERS, head + block + TIMERS),))


#: A peer group and a [[dynamic-neighbors]] range using it (the probes below edit them).
DYNAMIC = ('\n[gracebgp]\n', '\n[[peer-groups]]\n[peer-groups.config]\npeer-group-name = "leaves"\n'
           '[[peer-groups]]\n[peer-groups.config]\npeer-group-name = "spines"\npeer-as = 65020\n'
           '[[dynamic-neighbors]]\n[dynamic-neighbors.config]\nprefix = "10.0.0.0/24"\n'
           'peer-group = "leaves"\n[dynamic-neighbors.gracebgp]\nmax-peers = 2\n\n[gracebgp]\n')


def dynamic_peers(cfg: Config) -> list[object]:
    """Which addresses a connection is taken from, and what becomes of two more from the
    range (the second over a cap of 1: refused with Cease/Out of Resources)."""
    sp, _ = _started(cfg)
    answers: list[object] = [sp.peer_for(a) for a in ("10.0.0.9", "10.0.1.9")]
    for n, address in enumerate(("10.0.0.7", "10.0.0.8", "10.0.0.9")):
        out = sp.handle(ev.Connected(address, (1 << 21) + n, "10.0.0.1", outgoing=False), NOW)
        answers.append([type(o).__name__ for o in out if not isinstance(o, (ev.Log, ev.Notice))])
    answers += [(p.address, p.settings.session.peer_as) for p in sp.peers.values() if p.dynamic_range]
    return answers


def dyn(old: str, new: str) -> Probe:
    return Probe(((old, new),), dynamic_peers, base=(DYNAMIC,))


POL = "pol-walk"


def renamed(name: str, kind: str) -> Probe:
    """A defined set renamed, and the condition that names it with it."""
    return Probe(((f'{kind}-name = "{name}"', f'{kind}-name = "{name}-2"'),
                  (f'{kind} = "{name}"\nmatch-set-options', f'{kind} = "{name}-2"\nmatch-set-options')),
                 policy_effect)


def invert(name: str, kind: str) -> Probe:
    written = f'{kind} = "{name}"\nmatch-set-options = '
    return p(written + '"any"', written + '"invert"', policy_effect)


def community_op(action: str) -> Probe:
    table = f"[policy-definitions.statements.actions.bgp-actions.{action}]"
    return p(f'{table}\noptions = "add"', f'{table}\noptions = "replace"', policy_effect)


#: BFD (issue 18) on the second neighbor: the sessions gracebgp-bfdd is handed, and the
#: speaker's bfd-graceful.
RR_ID = 'route-reflector-cluster-id = "192.0.2.1"\n'
BFD_ON = "[neighbors.bfd.config]\nenabled = true\n"
WITH_BFD = ((RR_ID, RR_ID + BFD_ON),)
BFD_SESSIONS = ("daemon.py", "BfdLink(")


def bfd(key: str, value: str, effect: Callable[[Config], object] = wanted_sessions,
        read_by: tuple[str, str] = BFD_SESSIONS, table: str = "config") -> Probe:
    """With BFD on for the second neighbor, ``[neighbors.bfd.<table>] key = value``."""
    added = f"{key} = {value}\n" if table == "config" else f"[neighbors.bfd.{table}]\n{key} = {value}\n"
    return Probe(((BFD_ON, BFD_ON + added),), effect, read_by, base=WITH_BFD)


PROBES: dict[str, Probe] = {
    "neighbors.bfd.enabled": p(RR_ID, RR_ID + BFD_ON, wanted_sessions, BFD_SESSIONS),
    "neighbors.bfd.desired_minimum_tx_interval": bfd("desired-minimum-tx-interval", "300000"),
    "neighbors.bfd.required_minimum_receive": bfd("required-minimum-receive", "300000"),
    "neighbors.bfd.detection_multiplier": bfd("detection-multiplier", "5"),
    "neighbors.bfd.port": bfd("port", "3785"),
    "neighbors.bfd.multihop": bfd("multihop", "true", table="gracebgp"),
    "neighbors.bfd.graceful": bfd("graceful", "true", setting("bfd_graceful"),
                                  ("core/bfd.py", "bfd_graceful"), table="gracebgp"),
    "neighbors.bfd.wait_for_up": bfd("wait-for-up", "true", setting("bfd_wait"),
                                     ("core/bfd.py", "bfd_wait"), table="gracebgp"),
    "dynamic_neighbors.prefix": dyn('prefix = "10.0.0.0/24"', 'prefix = "10.0.0.0/29"'),
    "dynamic_neighbors.peer_group": dyn('peer-group = "leaves"', 'peer-group = "spines"'),
    "dynamic_neighbors.max_peers": dyn("max-peers = 2", "max-peers = 3"),
    "global_.asn": p("\nas = 65001", "\nas = 65010", our_opens, None, ("peer-as = 65001", "peer-as = 65010")),
    "global_.router_id": kv("router-id", '"192.0.2.1"', '"192.0.2.9"', our_opens),
    "global_.port": p("\nport = 179", "\nport = 1179", listen_addresses),
    "global_.local_address_list": p('["0.0.0.0", "::"]', '["192.0.2.1"]', listen_addresses),
    "global_.always_compare_med": kv("always-compare-med", "false", "true", route_selection,
                                     ("rib/loc_rib.py", "select(cands, self.always_compare_med)")),
    "global_.multipath": p(*MP_ON, multipaths, ("core/speaker.py", "t.use_multiple_paths(family)")),
    "global_.multipath_allow_multiple_as": mp(f"{G_MP}.ebgp.config]\nallow-multiple-as = false",
                                              f"{G_MP}.ebgp.config]\nallow-multiple-as = true"),
    "global_.multipath_ebgp_maximum_paths": mp("maximum-paths = 0\n[global.use-multiple-paths.ibgp",
                                               "maximum-paths = 4\n[global.use-multiple-paths.ibgp"),
    "global_.multipath_ibgp_maximum_paths": mp("[global.use-multiple-paths.ibgp.config]\nmaximum-paths = 0",
                                               "[global.use-multiple-paths.ibgp.config]\nmaximum-paths = 4"),
    "global_.afi_safis.name": Probe((("'ipv4-unicast'  #", "'ipv6-unicast'  #"),), multipaths,
                                    ("config/global_afi.py", "SUPPORTED_AFI_SAFIS[self.name]"), (AF_MP_ON,)),
    "global_.afi_safis.multipath.enabled": p(*AF_MP_ON, multipaths, ("runtime/fromconfig.py", "m.enabled")),
    "global_.afi_safis.multipath.allow_multiple_as": af_mp(f"{AF_MP}.ebgp.config]\nallow-multiple-as = false",
                                                           f"{AF_MP}.ebgp.config]\nallow-multiple-as = true"),
    "global_.afi_safis.multipath.ebgp_maximum_paths": af_mp(f"maximum-paths = 0\n{AF_MP}.ibgp",
                                                            f"maximum-paths = 4\n{AF_MP}.ibgp"),
    "global_.afi_safis.multipath.ibgp_maximum_paths": af_mp(f"{AF_MP}.ibgp.config]\nmaximum-paths = 0",
                                                            f"{AF_MP}.ibgp.config]\nmaximum-paths = 4"),
    "neighbors.neighbor_address": p('"192.0.2.2"', '"192.0.2.4"', start_commands),
    "neighbors.peer_as": kv("peer-as", 65002, 65003, open_checks),
    "neighbors.local_as": p("peer-as = 65002\n", "peer-as = 65002\nlocal-as = 65010\n", our_opens),
    "neighbors.description": p('"uplink"', '"rack 7"', peer_listing),
    "neighbors.admin_down": kv("admin-down", "false", "true", start_commands),
    "neighbors.auth_password": kv("auth-password", '""', '"s3cret"', start_commands),
    "neighbors.auth_password_file": p("[neighbors.timers.config]\n",
                                      f'[neighbors.gracebgp]\nauth-password-file = "{KEY_FILE}"\n'
                                      "[neighbors.timers.config]\n", start_commands),
    "neighbors.tcp_ao_keys.send_id": ao("send-id = 1", "send-id = 3"),
    "neighbors.tcp_ao_keys.recv_id": ao("recv-id = 1", "recv-id = 4"),
    "neighbors.tcp_ao_keys.algorithm": ao('"hmac-sha-1-96"', '"aes-128-cmac-96"'),
    "neighbors.tcp_ao_keys.secret": ao('secret = "k"', 'secret = "k3"'),
    "neighbors.tcp_ao_keys.secret_file": ao('secret = "k"', f'secret-file = "{KEY_FILE}"'),
    "neighbors.tcp_ao_current_key": ao("tcp-ao-current-key = 1", "tcp-ao-current-key = 2", current=True),
    "neighbors.hold_time": kv("hold-time", 90, 120, our_opens),
    "neighbors.keepalive_interval": kv("keepalive-interval", 30, 10, keepalives),
    "neighbors.connect_retry": kv("connect-retry", 120, 5, connect_retry),
    "neighbors.idle_hold_time_after_reset": kv("idle-hold-time-after-reset", 0, 5, reset_answer),
    "neighbors.passive_mode": kv("passive-mode", "false", "true", start_commands),
    "neighbors.local_address": p("remote-port = 179\n", 'remote-port = 179\nlocal-address = "192.0.2.1"\n',
                                 start_commands),
    "neighbors.remote_port": kv("remote-port", 179, 1179, start_commands),
    "neighbors.local_port": p(PORT, PORT + "local-port = 1790\n", start_commands),
    "neighbors.tcp_mss": p(PORT, PORT + "tcp-mss = 1200\n", start_commands),
    "neighbors.ip_tos": p(PORT, PORT + "ip-tos = 192\n", start_commands),
    "neighbors.bind_interface": p(PORT, PORT + 'bind-interface = "eth1"\n', start_commands),
    "neighbors.mtu_discovery": p(PORT, PORT + "mtu-discovery = false\n", start_commands),
    "neighbors.ttl": replace(p(PORT, PORT + "ttl = 5\n", start_commands), base=((MULTIHOP, ""),)),
    "neighbors.ebgp_multihop_enabled": kv("[neighbors.ebgp-multihop.config]\nenabled", "true", "false",
                                          start_commands),
    "neighbors.ebgp_multihop_ttl": kv("multihop-ttl", 255, 3, start_commands),
    "neighbors.ttl_security_enabled": replace(
        p(GTSM_OFF, GTSM_OFF.replace("false", "true"), start_commands), base=((MULTIHOP, GTSM_OFF),)),
    "neighbors.ttl_security_ttl_min": replace(
        kv("ttl-min", 255, 254, start_commands), base=((MULTIHOP, GTSM_OFF.replace("false", "true")),)),
    "neighbors.route_reflector_client": kv("route-reflector-client", "true", "false", setting("rr_client"),
                                           ("core/speaker.py", "peer.settings.rr_client")),
    "neighbors.route_reflector_cluster_id": kv("route-reflector-cluster-id", '"192.0.2.1"', '"10.0.0.9"',
                                               setting("cluster_id"),
                                               ("core/speaker.py", "peer.settings.cluster_id")),
    "neighbors.allow_own_as": p(MULTIHOP, MULTIHOP + "[neighbors.as-path-options.config]\nallow-own-as = 2\n",
                                setting("allow_own_as"), ("core/speaker.py", "peer.settings.allow_own_as")),
    "neighbors.replace_peer_as": p(MULTIHOP, MULTIHOP + "[neighbors.as-path-options.config]\n"
                                   "replace-peer-as = true\n", setting("replace_peer_as"), EXPORT_OPTIONS),
    "neighbors.remove_private_as": p("peer-as = 65002\n", 'peer-as = 65002\nremove-private-as = "all"\n',
                                     setting("remove_private_as"), EXPORT_OPTIONS),
    "neighbors.route_server_client": p(MULTIHOP, MULTIHOP + "[neighbors.route-server.config]\n"
                                       "route-server-client = true\n", setting("route_server_client"),
                                       EXPORT_OPTIONS),
    "neighbors.add_paths_receive": kv("[neighbors.add-paths.config]\nreceive", "false", "true", our_opens),
    "neighbors.add_paths_send_max": kv("send-max", "0\n[neighbors.graceful", "8\n[neighbors.graceful",
                                        our_opens),
    GR + "enabled": kv("[neighbors.graceful-restart.config]\nenabled", "true", "false", our_opens),
    GR + "restart_time": kv("restart-time", 90, 120, our_opens),
    GR + "helper_only": kv("helper-only", "false", "true", our_opens),
    GR + "deferral_time": kv("deferral-time", 360, 60, deferral),
    GR + "notification_enabled": kv("notification-enabled", "false", "true", our_opens),
    GR + "long_lived_enabled": kv("long-lived-enabled", "true", "false", our_opens),
    GR + "stale_routes_time": kv("stale-routes-time", 360, 60, setting("stale_path_time"),
                                 ("core/restart_control.py", "peer.settings.stale_path_time")),
    AF + "name": p('"ipv4-unicast"', '"ipv9"', our_opens, None,  # swapped: v6 first, GR for v6
                   ('"ipv6-unicast"', '"ipv4-unicast"'), ('"ipv9"', '"ipv6-unicast"')),
    AF + "enabled": kv('"ipv6-unicast"\nenabled', "true", "false", our_opens),
    AF + "mp_graceful_restart": kv(MP_GR, "true", "false", our_opens),
    AF + "long_lived_graceful_restart": kv(AF_LLGR, "true", "false", our_opens),
    AF + "long_lived_restart_time": kv("restart-time", 3600, 60, our_opens),
    AF + "add_paths_receive": p(V4_ADD_PATHS, V4_ADD_PATHS.replace("false", "true"), our_opens),
    AF + "add_paths_send_max": p(V4_ADD_PATHS, V4_ADD_PATHS.replace("= 0", "= 8"), our_opens),
    AF + "prefix_limit.max_prefixes": limit(kv("max-prefixes", 100, 50, peer_listing)),
    AF + "prefix_limit.shutdown_threshold_pct": limit(kv("shutdown-threshold-pct", 0, 80,
                                                         setting("prefix_limits"),
                                                         ("core/limits.py", "threshold = lim.threshold"))),
    AF + "prefix_limit.restart_timer": limit(kv("restart-timer", 0, 30, setting("prefix_limits"),
                                                ("core/limits.py", "now + lim.restart_timer"))),
    "gracebgp.state_dir": p('"/var/lib/gracebgp"', '"/srv/bgp"', runtime_only, ("daemon.py", ".state_dir")),
    "gracebgp.api_socket": p('"/run/gracebgp/gracebgpd.sock"', '"/run/bgp.sock"', runtime_only,
                             ("daemon.py", ".api_socket")),
    "gracebgp.api_token_file": p('"/etc/gracebgp/token"', '"/etc/bgp-token"', runtime_only,
                                 ("daemon.py", ".api_token_file")),
    "gracebgp.api_listen": p('sigterm = "retain"', 'sigterm = "retain"\napi-listen = "[::1]:8179"',
                             runtime_only, ("daemon.py", ".api_listen")),
    "gracebgp.api_socket_group": p('sigterm = "retain"', 'sigterm = "retain"\napi-socket-group = 0',
                                   runtime_only, ("daemon.py", ".api_socket_group")),
    "gracebgp.api_socket_mode": p('sigterm = "retain"', 'sigterm = "retain"\napi-socket-mode = "0600"',
                                  runtime_only, ("daemon.py", ".api_socket_mode")),
    "gracebgp.api_tls_cert_file": p('sigterm = "retain"', f'sigterm = "retain"\napi-listen = "[::1]:8179"\n'
                                    f'api-tls-cert-file = "{TLS_CERT}"\napi-tls-key-file = "{TLS_KEY}"',
                                    runtime_only, ("daemon.py", ".api_tls_cert_file")),
    "gracebgp.api_tls_key_file": p('sigterm = "retain"', f'sigterm = "retain"\napi-listen = "[::1]:8179"\n'
                                   f'api-tls-cert-file = "{TLS_CERT}"\napi-tls-key-file = "{TLS_KEY}"',
                                   runtime_only, ("daemon.py", ".api_tls_key_file")),
    "gracebgp.metrics_listen": p('sigterm = "retain"', 'sigterm = "retain"\nmetrics-listen = "[::1]:9179"',
                                 runtime_only, ("daemon.py", ".metrics_listen")),
    "gracebgp.fib": p('sigterm = "retain"', 'sigterm = "retain"\nfib = true', runtime_only,
                      ("runtime/fibconfig.py", "if not g.fib")),
    "gracebgp.fib_table": p('sigterm = "retain"', 'sigterm = "retain"\nfib-table = 100', runtime_only,
                            ("runtime/fibconfig.py", "g.fib_table")),
    "gracebgp.fib_protocol": p('sigterm = "retain"', 'sigterm = "retain"\nfib-protocol = 200', runtime_only,
                               ("runtime/fibconfig.py", "g.fib_protocol")),
    "gracebgp.fib_metric": p('sigterm = "retain"', 'sigterm = "retain"\nfib-metric = 100', runtime_only,
                             ("runtime/fibconfig.py", "g.fib_metric")),
    "gracebgp.fib_sweep_time": p('sigterm = "retain"', 'sigterm = "retain"\nfib-sweep-time = 60',
                                 runtime_only, ("runtime/fibconfig.py", "cfg.gracebgp.fib_sweep_time")),
    "gracebgp.fib_retain": p('sigterm = "retain"', 'sigterm = "retain"\nfib-retain = false', runtime_only,
                             ("runtime/fibconfig.py", "g.fib_retain")),
    "gracebgp.fib_resolve_via_default": p('sigterm = "retain"',
                                          'sigterm = "retain"\nfib-resolve-via-default = true', runtime_only,
                                          ("runtime/fibconfig.py", "g.fib_resolve_via_default")),
    "gracebgp.record": p('sigterm = "retain"', 'sigterm = "retain"\nrecord = "/var/tmp/gracebgpd.jsonl"',
                         runtime_only, ("daemon.py", ".record")),
    "gracebgp.sigterm": kv("sigterm", '"retain"', '"withdraw"', runtime_only, ("daemon.py", ".sigterm")),
    "gracebgp.forwarding_state_preserved": kv("forwarding-state-preserved", "true", "false", our_opens),
    "gracebgp.drain_delay": kv("drain-delay", 10, 60, runtime_only, ("daemon.py", ".drain_delay")),
    "gracebgp.establish_wait": kv("establish-wait", 30, 5, deferral),
    "gracebgp.llgr_to_ibgp": kv("llgr-to-ibgp", "false", "true", speaker_attr("llgr_ibgp"),
                                ("core/drain.py", "llgr_ibgp=sp.llgr_ibgp")),
    "gracebgp.provisional_hard_reset": kv("provisional-hard-reset", "false", "true",
                                          speaker_attr("provisional_hard"),
                                          ("core/commands.py", "speaker.provisional_hard")),
    "gracebgp.routes.prefix": p('"198.51.100.0/24"', '"203.0.113.0/24"', originated),
    "gracebgp.routes.next_hop": p(ROUTE, ROUTE + 'next-hop = "192.0.2.1"\n', originated),
    "gracebgp.routes.origin": p(ROUTE, 'origin = "incomplete"\n', originated),
    "gracebgp.routes.communities": p("\ncommunities = []", '\ncommunities = ["65001:7"]', originated),
    "gracebgp.routes.large_communities": kv("large-communities", "[]", '["65001:1:7"]', originated),
    "gracebgp.routes.med": p(ROUTE, ROUTE + "med = 50\n", originated),
    "gracebgp.routes.local_pref": p(ROUTE, ROUTE + "local-pref = 200\n", originated),
    # routing policy (issue 16): the compiled book run over routes (policy_effect)
    "global_.apply_policy.import_policies": kv("import-policy-list", "[]", '["pol-walk"]', policy_effect),
    "global_.apply_policy.export_policies": kv("export-policy-list", '["pol-walk"]', "[]", policy_effect),
    "global_.apply_policy.default_import": kv("default-import-policy", '"reject-route"', '"accept-route"',
                                              policy_effect),
    "global_.apply_policy.default_export": kv("default-export-policy", '"reject-route"', '"accept-route"',
                                              policy_effect),
    "neighbors.apply_policy.import_policies": kv("import-policy-list", '["pol-walk"]', "[]", policy_effect),
    "neighbors.apply_policy.export_policies": kv("export-policy-list", "[]", '["pol-walk"]', policy_effect),
    "neighbors.apply_policy.default_import": kv("default-import-policy", '"accept-route"', '"reject-route"',
                                                policy_effect),
    "neighbors.apply_policy.default_export": kv("default-export-policy", '"accept-route"', '"reject-route"',
                                                policy_effect),
    "gracebgp.rfc8212": Probe((("rfc8212 = false", "rfc8212 = true"),), policy_effect,
                              base=(('import-policy-list = ["pol-walk"]\nexport-policy-list = []\n'
                                     'default-import-policy = "accept-route"\n'
                                     'default-export-policy = "accept-route"\n', ""),
                                    ('default-import-policy = "reject-route"\n'
                                     'default-export-policy = "reject-route"\n', ""))),
    "defined_sets.prefix_sets.name": renamed("ps-pods", "prefix-set"),
    "defined_sets.prefix_sets.prefix_list.ip_prefix": kv("ip-prefix", '"10.1.0.0/16"', '"10.2.0.0/16"',
                                                         policy_effect),
    "defined_sets.prefix_sets.prefix_list.masklength_range": kv("masklength-range", '"16..24"', '"16..20"',
                                                                policy_effect),
    "defined_sets.neighbor_sets.name": renamed("ns-peers", "neighbor-set"),
    "defined_sets.neighbor_sets.neighbor_info_list": kv("neighbor-info-list", '["192.0.2.2/32"]',
                                                        '["192.0.2.3"]', policy_effect),
    "defined_sets.community_sets.name": renamed("cs-one", "community-set"),
    "defined_sets.community_sets.entries": kv("community-list", '["65002:1"]', '["65002:2"]', policy_effect),
    "defined_sets.ext_community_sets.name": renamed("es-one", "ext-community-set"),
    "defined_sets.ext_community_sets.entries": kv("ext-community-list", '["rt:65002:1"]', '["rt:65002:2"]',
                                                  policy_effect),
    "defined_sets.large_community_sets.name": renamed("ls-one", "large-community-set"),
    "defined_sets.large_community_sets.entries": kv("large-community-list", '["65002:1:1"]', '["65002:1:2"]',
                                                    policy_effect),
    "defined_sets.as_path_sets.name": renamed("as-one", "as-path-set"),
    "defined_sets.as_path_sets.entries": kv("as-path-list", '["^65002_"]', '["^65010_"]', policy_effect),
    "policy_definitions.name": Probe(((f'name = "{POL}"', 'name = "pol-2"'),
                                      (f'import-policy-list = ["{POL}"]', 'import-policy-list = ["pol-2"]'),
                                      (f'export-policy-list = ["{POL}"]', 'export-policy-list = ["pol-2"]')),
                                     policy_effect),
    "policy_definitions.statements.name": kv("name", '"st-last"', '"st-final"', policy_effect),
    "policy_definitions.statements.match_prefix_set.name": renamed("ps-pods", "prefix-set"),
    "policy_definitions.statements.match_prefix_set.options": invert("ps-pods", "prefix-set"),
    "policy_definitions.statements.match_neighbor_set.name": renamed("ns-peers", "neighbor-set"),
    "policy_definitions.statements.match_neighbor_set.options": invert("ns-peers", "neighbor-set"),
    "policy_definitions.statements.match_community_set.name": renamed("cs-one", "community-set"),
    "policy_definitions.statements.match_community_set.options": invert("cs-one", "community-set"),
    "policy_definitions.statements.match_ext_community_set.name": renamed("es-one", "ext-community-set"),
    "policy_definitions.statements.match_ext_community_set.options": invert("es-one", "ext-community-set"),
    "policy_definitions.statements.match_large_community_set.name": renamed("ls-one", "large-community-set"),
    "policy_definitions.statements.match_large_community_set.options": invert("ls-one",
                                                                              "large-community-set"),
    "policy_definitions.statements.match_as_path_set.name": renamed("as-one", "as-path-set"),
    "policy_definitions.statements.match_as_path_set.options": invert("as-one", "as-path-set"),
    "policy_definitions.statements.as_path_length.operator": p('operator = "eq"\nvalue = 1',
                                                               'operator = "ge"\nvalue = 1', policy_effect),
    "policy_definitions.statements.as_path_length.value": kv("value", 1, 2, policy_effect),
    "policy_definitions.statements.community_count.operator": p('operator = "eq"\nvalue = 5',
                                                                'operator = "le"\nvalue = 5', policy_effect),
    "policy_definitions.statements.community_count.value": kv("value", 5, 2, policy_effect),
    "policy_definitions.statements.route_type": kv("route-type", '"external"', '"internal"', policy_effect),
    "policy_definitions.statements.afi_safi_in": kv("afi-safi-in-list", "['ipv4-unicast']",
                                                    "['ipv6-unicast']", policy_effect),
    "policy_definitions.statements.next_hop_in_list": kv("next-hop-in-list", '["192.0.2.0/24"]',
                                                         '["198.51.100.0/24"]', policy_effect),
    "policy_definitions.statements.route_disposition": kv("route-disposition", '"accept-route"',
                                                          '"reject-route"', policy_effect),
    "policy_definitions.statements.set_community.options": community_op("set-community"),
    "policy_definitions.statements.set_community.communities": kv("communities-list", '["65001:100"]',
                                                                  '["65001:200"]', policy_effect),
    "policy_definitions.statements.set_ext_community.options": community_op("set-ext-community"),
    "policy_definitions.statements.set_ext_community.communities": kv("communities-list", '["rt:65001:100"]',
                                                                      '["rt:65001:200"]', policy_effect),
    "policy_definitions.statements.set_large_community.options": community_op("set-large-community"),
    "policy_definitions.statements.set_large_community.communities": kv("communities-list", '["65001:1:100"]',
                                                                        '["65001:1:200"]', policy_effect),
    "policy_definitions.statements.set_med": kv("set-med", '"+1"', '"-1"', policy_effect),
    "policy_definitions.statements.set_local_pref": kv("set-local-pref", 150, 160, policy_effect),
    "policy_definitions.statements.set_next_hop": kv("set-next-hop", '"self"', '"unchanged"', policy_effect),
    "policy_definitions.statements.set_as_path_prepend.asn": kv("as", '"65001"', '"65009"', policy_effect),
    "policy_definitions.statements.set_as_path_prepend.repeat_n": kv("repeat-n", 1, 2, policy_effect),
}


# --- the walk -----------------------------------------------------------------------------------

def _model(annotation: Any) -> type[BaseModel] | None:
    """The configuration model an annotation holds (directly, optional or in a tuple)."""
    todo = [annotation]
    while todo:
        a = todo.pop()
        if a is ApplyPolicy:  # validated as written by ApplyPolicyConfig, its fields' names
            return ApplyPolicyConfig
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        todo += get_args(a)
    return None


def model_fields(model: type[BaseModel] = Config, section: Section = CONFIG,
                 prefix: str = "", rel: tuple[str, ...] = ()) -> Iterator[tuple[str, bool]]:
    """Every leaf field, dotted (list items share one path: ``neighbors.afi_safis.name``),
    with whether a TOML key sets it. A leaf is what an operator writes as one key (the
    schema says so): a nested model is walked into, unless one key fills it whole (a
    value read from a file, say)."""
    for name, info in model.model_fields.items():
        sub, path = _model(info.annotation), (*rel, name)
        if name in section.children and sub is not None and not rel:
            child = section.children[name]
            yield from model_fields(sub, child.section, f"{prefix}{name}.")
        elif sub is not None and path not in section.fields:
            yield from model_fields(sub, section, f"{prefix}{name}.", path)
        else:
            yield prefix + name, path in section.fields


def values(obj: Any, path: list[str]) -> list[Any]:
    """The values at ``path`` in a parsed configuration, across list items."""
    if not path:
        return [obj]
    if isinstance(obj, tuple):
        return [v for item in obj for v in values(item, path)]
    if obj is None:
        return [None]
    return values(getattr(obj, path[0]), path[1:])


def edited(probe: Probe) -> tuple[str, str]:
    base = BASE
    for old, new in probe.base:
        assert base.count(old) == 1, old
        base = base.replace(old, new)
    text = base
    for old, new in probe.edit:
        assert text.count(old) == 1, f"{old!r} is not exactly once in the text"
        text = text.replace(old, new)
    return base, text


def test_every_field_has_a_consumer() -> None:
    walked = dict(model_fields())
    assert all(walked.values()), f"fields no TOML key sets: {[f for f, keyed in walked.items() if not keyed]}"
    fields = set(walked)
    missing = sorted(fields - set(PROBES) - set(INFORMATIONAL))
    assert not missing, (
        f"fields nothing is known to consume: {missing}. Add a Probe to PROBES in {__file__} (how an "
        "operator writes a non-default value, and what a consumer does with it), make the value an error "
        "that names the key, or, for a field that is only shown, an INFORMATIONAL entry with the reason")
    stale = sorted((set(PROBES) | set(INFORMATIONAL)) - fields)
    assert not stale, f"probes for fields the model no longer has: {stale}"


def test_base_is_valid_and_neutral() -> None:
    """BASE parses, and it is an ordinary file: every effect can be computed on it."""
    cfg = parse(BASE)
    for probe in PROBES.values():
        if probe.effect is not None and not probe.base:
            probe.effect(cfg)


@pytest.mark.parametrize("field", sorted(PROBES))
def test_field_is_consumed(field: str) -> None:
    probe = PROBES[field]
    base_text, text = edited(probe)
    base = parse(base_text)
    if probe.effect is None:  # not implemented: refused at the key, never ignored
        with pytest.raises(ConfigError) as info:
            parse(text, "probe.toml")
        key = field.rsplit(".", 1)[-1].replace("add_paths_", "").replace("_", "-")
        found = info.value.problems
        assert any(pr.key.endswith(key) and "not supported yet" in pr.message for pr in found), found
        return
    changed = parse(text)
    path = field.split(".")
    assert values(changed, path) != values(base, path), f"the probe's edit does not change {field}"
    if probe.effect is runtime_only:
        assert probe.read_by is not None, f"{field}: a runtime-only field needs read_by"
    else:
        assert probe.effect(changed) != probe.effect(base), (
            f"{field}: changing it changes nothing a consumer does")
    if probe.read_by is not None:
        module, needle = probe.read_by
        assert needle in (SRC / module).read_text(), (
            f"{field}: src/gracebgp/{module} no longer reads it ({needle})")


def test_the_walk_catches_an_unused_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug the walk exists for (issue 11 finding 3): long-lived-enabled was accepted and
    read by nothing. Put that back (the settings built as if it were always true) and the
    walk fails for exactly that key."""
    original = NeighborSettings.from_config

    def ignoring(neighbor: Neighbor, global_: Any, **kw: Any) -> NeighborSettings:
        gr = neighbor.graceful_restart.model_copy(update={"long_lived_enabled": True})
        return original(neighbor.model_copy(update={"graceful_restart": gr}), global_, **kw)

    monkeypatch.setattr(NeighborSettings, "from_config", staticmethod(ignoring))
    with pytest.raises(AssertionError, match="changing it changes nothing a consumer does"):
        test_field_is_consumed("neighbors.graceful_restart.long_lived_enabled")
    test_field_is_consumed("neighbors.graceful_restart.restart_time")  # the others still pass
