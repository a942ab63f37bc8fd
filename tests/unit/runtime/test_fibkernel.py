"""runtime.fibkernel's encoding of route requests, read back by pyroute2's own parser (an
independent decoder): flags per operation (add: CREATE|EXCL, replace: CREATE|REPLACE,
delete: RTM_DELROUTE), table, protocol, metric, destination, one next hop or RTA_MULTIPATH,
IPv4 and IPv6, the acknowledgement only where asked. No socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyroute2.netlink.rtnl.marshal import MarshalRtnl  # type: ignore[import-untyped]

from gracebgp.fib.model import Hop, Op, OpKind
from gracebgp.runtime.fibkernel import MsgFlag, MsgType, _messages, encode
from gracebgp.types import IPV4_UNICAST, IPV6_UNICAST
from gracebgp.wire.nlri import parse_prefix


def parsed(data: bytes) -> Any:
    [msg] = list(MarshalRtnl().parse(data))
    return msg


def key(text: str) -> int:
    return parse_prefix(text)[1]


def test_add_one_next_hop() -> None:
    data = encode(Op(OpKind.ADD, IPV4_UNICAST, key("10.99.0.0/24"), (Hop("192.0.2.1", 3),)), 7, 254, 196, 20,
                  ack=False)
    msg = parsed(data)
    assert msg["header"]["type"] == MsgType.RTM_NEWROUTE and msg["header"]["sequence_number"] == 7
    assert msg["header"]["flags"] == MsgFlag.REQUEST | MsgFlag.CREATE | MsgFlag.EXCL
    assert (msg["family"], msg["dst_len"], msg["table"], msg["proto"], msg["type"]) == (2, 24, 254, 196, 1)
    assert msg.get_attr("RTA_DST") == "10.99.0.0" and msg.get_attr("RTA_GATEWAY") == "192.0.2.1"
    assert msg.get_attr("RTA_OIF") == 3 and msg.get_attr("RTA_PRIORITY") == 20
    assert msg.get_attr("RTA_TABLE") == 254


def test_replace_with_ecmp_and_the_acknowledgement() -> None:
    op = Op(OpKind.REPLACE, IPV4_UNICAST, key("10.99.0.0/24"), (Hop("192.0.2.1"), Hop("198.51.100.1", 4)))
    msg = parsed(encode(op, 8, 1000, 196, 20, ack=True))
    assert msg["header"]["flags"] == MsgFlag.REQUEST | MsgFlag.ACK | MsgFlag.CREATE | MsgFlag.REPLACE
    assert msg["table"] == 252 and msg.get_attr("RTA_TABLE") == 1000  # a table id over 255: RTA_TABLE
    hops = [(nh.get_attr("RTA_GATEWAY"), nh["oif"]) for nh in msg.get_attr("RTA_MULTIPATH")]
    assert hops == [("192.0.2.1", 0), ("198.51.100.1", 4)]
    assert msg.get_attr("RTA_GATEWAY") is None


def test_delete_names_our_protocol_and_the_default_route_has_no_destination() -> None:
    msg = parsed(encode(Op(OpKind.DELETE, IPV4_UNICAST, key("0.0.0.0/0")), 9, 254, 196, 20, ack=False))
    assert msg["header"]["type"] == MsgType.RTM_DELROUTE and msg["header"]["flags"] == MsgFlag.REQUEST
    assert msg["proto"] == 196 and msg["dst_len"] == 0 and msg.get_attr("RTA_DST") is None
    assert msg.get_attr("RTA_GATEWAY") is None and msg.get_attr("RTA_MULTIPATH") is None


def test_ipv6_and_several_messages_in_one_buffer() -> None:
    add = Op(OpKind.ADD, IPV6_UNICAST, key("2001:db8:99::/48"), (Hop("fd00::1"),))
    a = encode(add, 1, 254, 196, 20, False)
    b = encode(Op(OpKind.DELETE, IPV6_UNICAST, key("2001:db8:98::/48")), 2, 254, 196, 20, True)
    msgs = list(MarshalRtnl().parse(a + b))
    assert [m["header"]["sequence_number"] for m in msgs] == [1, 2]
    assert msgs[0]["family"] == 10 and msgs[0].get_attr("RTA_DST") == "2001:db8:99::"
    assert msgs[0].get_attr("RTA_GATEWAY") == "fd00::1"
    assert [(kind, seq) for kind, _, seq, _ in _messages(a + b)] == [(24, 1), (25, 2)]


def test_the_default_protocol_is_no_other_daemons(tmp_path: Path) -> None:
    # review of issue 17, item 4: 196 is FRR's staticd (Debian's frr ships it in rt_protos.d)
    from gracebgp.runtime.fibkernel import DEFAULT_PROTOCOL, protocol_names

    main = tmp_path / "rt_protos"
    main.write_text("0\tunspec\n2 kernel\n4\tstatic\n12\tbird\n42 babel\n99 openr\n186 bgp\n192 eigrp\n")
    d = tmp_path / "rt_protos.d"
    d.mkdir()
    frr = ["bgp", "isis", "ospf", "rip", "ripng", "nhrp", "eigrp", "ldp", "sharp", "pbr", "static",
           "openfabric"]
    lines = "".join(f"{n} {name}\n" for n, name in zip(range(186, 198), frr, strict=True))
    (d / "frr.conf").write_text("# frr\n" + lines)
    (d / "README").write_text("201 not-a-conf-file\n")
    assert protocol_names(196, [str(main)], [str(d)]) == {"static"}
    assert protocol_names(DEFAULT_PROTOCOL, [str(main)], [str(d)]) == set()
    assert DEFAULT_PROTOCOL not in (12, 80) and not 186 <= DEFAULT_PROTOCOL <= 197


def test_the_dump_decoder_reads_what_the_encoder_writes_and_survives_garbage() -> None:
    from gracebgp.runtime.fibkernel import parse_route

    ecmp = Op(OpKind.REPLACE, IPV6_UNICAST, key("2001:db8:98::/48"), (Hop("fd00::1", 2), Hop("fd00::2", 3)))
    data = encode(ecmp, 1, 1000, 201, 30, ack=False)
    [(_, _, _, body)] = list(_messages(data))
    parsed = parse_route(body)
    assert parsed is not None
    route, table, kind, metric = parsed
    assert (route.key, route.hops, route.protocol) == (ecmp.key, ecmp.hops, 201)
    assert (table, kind, metric) == (1000, 1, 30)
    add = Op(OpKind.ADD, IPV4_UNICAST, key("10.99.0.0/24"), (Hop("192.0.2.1", 3),))
    [(_, _, _, body)] = list(_messages(encode(add, 2, 254, 201, 20, False)))
    parsed = parse_route(body)
    assert parsed is not None and parsed[0].hops == add.hops
    assert parse_route(memoryview(bytes(body)[:-3])) is None  # a truncated gateway: skipped, no exception
