"""An independent decoder agrees with ours: tshark's BGP dissector reads the messages we
encode (every capability, every attribute, IPv6 and RFC 8950 next hops, ADD-PATH, 2-octet
sessions, NOTIFICATION data, ROUTE-REFRESH subtypes, End-of-RIB) exactly as we do."""

from __future__ import annotations

import random
import shutil
from typing import Any

import pytest

from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire import (
    KEEPALIVE,
    AddPath,
    Aggregator,
    AsPath,
    AtomicAggregate,
    AttrSet,
    ClusterList,
    CodecContext,
    Communities,
    EnhancedRouteRefresh,
    ExtendedCommunities,
    ExtendedMessage,
    ExtendedNextHop,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    LargeCommunities,
    LocalPref,
    LongLivedGracefulRestart,
    MultiExitDisc,
    Multiprotocol,
    NextHop,
    Notification,
    Open,
    Origin,
    OriginatorId,
    RouteRefresh,
    RouteRefreshCapability,
    UnknownAttribute,
    UnknownCapability,
    decode_message,
    end_of_rib,
    pack_ipv4,
    pack_mp,
    pack_withdrawals,
    to_two_octet,
)
from gracebgp.wire.nlri import addpath_key, make_key, parse_prefix

from .. import ournorm

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (apt install tshark)"),
]

NEW_IBGP = CodecContext(as4=True, ibgp=True, extended_next_hop=frozenset({IPV4_UNICAST}))  # RFC 8950
OLD = CodecContext(as4=False, ibgp=False)
ADDPATH = CodecContext(addpath=frozenset({IPV4_UNICAST, IPV6_UNICAST}), ibgp=True)


def k(text: str) -> int:
    return parse_prefix(text)[1]


def full_attrs() -> AttrSet:
    return AttrSet(
        [
            Origin(2),
            AsPath(((2, (65001, 4200000001)), (1, (64512, 64513)))),
            NextHop("192.0.2.1"),
            MultiExitDisc(50),
            LocalPref(200),
            AtomicAggregate(),
            Aggregator(4200000001, "192.0.2.9"),
            Communities((0xFFFFFF01, 0xFFFF0000, 0xFFFF0006, 65000 << 16 | 100)),
            OriginatorId("10.0.0.9"),
            ClusterList(("10.0.0.1", "10.0.0.2")),
            ExtendedCommunities((0x0002FDE800000064, 0x0102C00002090001)),
            LargeCommunities(((4200000001, 1, 2), (65000, 0, 0))),
            UnknownAttribute(99, b"\x01\x02\x03"),
        ]
    )


def corpus() -> list[tuple[bytes, CodecContext]]:
    out: list[tuple[bytes, CodecContext]] = []
    caps = (
        Multiprotocol(1, 1),
        Multiprotocol(2, 1),
        RouteRefreshCapability(),
        EnhancedRouteRefresh(),
        ExtendedMessage(),
        ExtendedNextHop(((1, 1, 2),)),
        FourOctetAs(4200000001),
        GracefulRestart(0xC, 120, ((1, 1, 0x80), (2, 1, 0))),
        LongLivedGracefulRestart(((1, 1, 0x80, 3600),)),
        AddPath(((1, 1, 3), (2, 1, 1))),
        Fqdn("node-1", "example.net"),
        UnknownCapability(200, b"\x01"),
    )
    out.append((Open.build(4200000001, 90, "192.0.2.1", caps).encode(), NEW_IBGP))
    out.append((Open.build(65001, 3, "10.0.0.1", caps[:3], one_param_each=True).encode(), NEW_IBGP))
    attrs = full_attrs()
    v4 = [
        k("10.0.0.0/8"),
        k("10.1.0.0/16"),
        k("10.2.3.0/24"),
        k("10.2.4.128/25"),
        k("192.0.2.1/32"),
        k("0.0.0.0/0"),
    ]
    v6 = [k("2001:db8::/32"), k("2001:db8:1::/48"), k("2001:db8:1:2::/64"), k("2001:db8::1/128"), k("::/0")]
    out += [(m, NEW_IBGP) for m in pack_ipv4(attrs, v4, NEW_IBGP)]
    out += [(m, NEW_IBGP) for m in pack_mp(attrs, IPV6_UNICAST, ("2001:db8::1", "fe80::1"), v6, NEW_IBGP)]
    out += [
        (m, NEW_IBGP) for m in pack_mp(attrs, IPV4_UNICAST, ("2001:db8::1",), v4[:3], NEW_IBGP)
    ]  # RFC 8950
    out += [(m, NEW_IBGP) for m in pack_withdrawals(IPV4_UNICAST, v4, NEW_IBGP)]
    out += [(m, NEW_IBGP) for m in pack_withdrawals(IPV6_UNICAST, v6, NEW_IBGP)]
    old_attrs = to_two_octet(
        AttrSet(
            [
                Origin(0),
                AsPath(((2, (65002, 4200000001, 65001)),)),
                NextHop("192.0.2.1"),
                Aggregator(4200000001, "192.0.2.9"),
            ]
        )
    )
    out += [(m, OLD) for m in pack_ipv4(old_attrs, v4[:2], OLD)]
    out += [
        (m, ADDPATH) for m in pack_ipv4(attrs, [addpath_key(x, i + 1) for i, x in enumerate(v4[:3])], ADDPATH)
    ]
    out += [
        (m, ADDPATH)
        for m in pack_mp(attrs, IPV6_UNICAST, ("2001:db8::1",), [addpath_key(x, 7) for x in v6[:2]], ADDPATH)
    ]
    out += [(end_of_rib(f, NEW_IBGP), NEW_IBGP) for f in (IPV4_UNICAST, IPV6_UNICAST)]
    # (Not OPEN/Unsupported Capability: tshark 4.0 shows its data as capabilities, not hex.)
    out += [
        (n.encode(), NEW_IBGP)
        for n in (
            Notification.cease(2, "maintenance until 14:00 — see ticket 42"),
            Notification.cease(4, "upgrade"),
            Notification.cease(2, "bye").hard_reset(),
            Notification(3, 11, b""),
            Notification(1, 2, b"\x10\x01"),
            Notification(5, 3, b""),
        )
    ]
    out += [(RouteRefresh(a, 1, st).encode(), NEW_IBGP) for a in (1, 2) for st in (0, 1, 2)]
    out.append((KEEPALIVE.encode(), NEW_IBGP))
    return out


def realistic_asn(rng: random.Random) -> int:
    return rng.choice(
        (rng.randrange(1, 64496), rng.randrange(131072, 400000), rng.randrange(4200000000, 4294967295))
    )


def realistic_prefix(rng: random.Random, v6: bool) -> int:
    if v6:  # global unicast space, the lengths a table carries
        return make_key(
            0x2000 << 112 | rng.randrange(1 << 125), rng.choice((29, 32, 40, 44, 48, 56, 64, 128)), 128
        )
    return make_key(rng.randrange(1 << 24, 224 << 24), rng.randint(8, 32), 32)


def random_updates(n: int, seed: int = 20261121) -> list[tuple[bytes, CodecContext]]:
    """Random UPDATEs with realistic prefixes (tshark guesses ADD-PATH per message, and
    odd prefixes such as ::/0 or 8000::/2 can fool that guess)."""
    rng = random.Random(seed)
    out: list[tuple[bytes, CodecContext]] = []
    for _ in range(n):
        path = tuple(realistic_asn(rng) for _ in range(rng.randint(1, 6)))
        comms = tuple(rng.randrange(1 << 32) for _ in range(rng.randint(1, 5)))
        attrs = AttrSet(
            [
                Origin(rng.randrange(3)),
                AsPath(((2, path),)),
                NextHop(f"10.{rng.randrange(256)}.0.1"),
                MultiExitDisc(rng.randrange(1 << 32)),
                Communities(comms),
            ]
        )
        v6 = rng.random() < 0.5
        keys = [realistic_prefix(rng, v6) for _ in range(rng.randint(1, 30))]
        if v6:
            out += [(m, NEW_IBGP) for m in pack_mp(attrs, IPV6_UNICAST, ("2001:db8::2",), keys, NEW_IBGP)]
        else:
            out += [(m, NEW_IBGP) for m in pack_ipv4(attrs, keys, NEW_IBGP)]
    return out


def test_tshark_reads_our_messages_as_we_do() -> None:
    from .. import tshark_bgp

    messages = corpus() + random_updates(300)
    mismatches: list[Any] = []
    seen: set[str] = set()
    for as4 in (True, False):  # tell tshark the AS number width the session negotiated
        batch = [(m, ctx) for m, ctx in messages if ctx.as4 == as4]
        theirs = tshark_bgp.dissect([m for m, _ in batch], {"bgp.asn_len": "4 octet" if as4 else "2 octet"})
        assert len(theirs) == len(batch)
        for (raw, ctx), their in zip(batch, theirs, strict=True):
            decoded = decode_message(raw, ctx)
            ours = ournorm.normalize(decoded, len(raw), ctx.as4, IPV4_UNICAST in ctx.addpath)
            ours = ournorm.strip_path_ids_tshark_did_not_read(ours, their)
            if ours != their:
                mismatches.append((raw.hex(), ours, their))
            seen.add(their["type"])
    assert not mismatches, mismatches[:3]
    assert seen == {"OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH"}
