"""Independent interpretation of raw BGP messages with tshark's BGP dissector.

``dissect(messages)`` writes complete BGP messages (16-byte marker included) into a
classic pcap file as TCP segments of a synthetic connection to port 179, runs
``tshark -r FILE -T json -x`` and returns one *normalized* dict per message, in
order. Everything in the normalized dict comes from tshark's output (field values,
or the byte ranges tshark attributes to a field via ``-x``); nothing is decoded here
from the message bytes themselves, so the result can serve as an oracle for our own
codec.

Normalized schema (all dicts are plain str/int/list/dict; serialize with
``sort_keys=True``):

* every message: ``{"type": "OPEN"|"UPDATE"|"NOTIFICATION"|"KEEPALIVE"|
  "ROUTE-REFRESH", "length": int}``
* OPEN: ``version, my_as`` (the 2-octet field), ``hold_time, bgp_id`` (dotted),
  ``capabilities: [{"code": int, ...}]`` in wire order, with details:

  - 1 multiprotocol: ``afi, safi``
  - 5 extended next hop: ``families: [{afi, safi, nh_afi}]``
  - 64 graceful restart: ``restart_flags`` (the 4 flag bits), ``restart_time``,
    ``families: [{afi, safi, flags}]``
  - 65 4-octet AS: ``asn``
  - 69 ADD-PATH: ``families: [{afi, safi, send_receive}]``
  - 73 FQDN: ``hostname, domain``
  - 2, 6, 70, 128 (and any other empty capability): no details (code only)
  - anything tshark 4.0 shows as ``bgp.cap.unknown`` (e.g. 71 long-lived GR or
    9 BGP role, which tshark 4.0 does not decode): ``raw`` = hex of the capability
    value; any other non-empty capability: ``raw`` = hex of the value octets of the
    byte range tshark assigns to it.

* UPDATE: ``withdrawn: [prefix]``, ``nlri: [prefix]``, ``attributes: [...]`` in
  wire order, each ``{"type": code, "flags": int, ...}``:

  - 1 ORIGIN ``value``; 2 AS_PATH / 17 AS4_PATH ``segments: [{type, asns}]``;
    3 NEXT_HOP ``value``; 4 MED ``value``; 5 LOCAL_PREF ``value``;
    6 ATOMIC_AGGREGATE (nothing); 7 AGGREGATOR / 18 AS4_AGGREGATOR ``asn, address``;
    8 COMMUNITIES ``values: ["a:b"]``; 9 ORIGINATOR_ID ``value``;
    10 CLUSTER_LIST ``values``; 14 MP_REACH_NLRI ``afi, safi, next_hops, nlri``;
    15 MP_UNREACH_NLRI ``afi, safi, withdrawn``; 16 EXTENDED_COMMUNITIES ``values``
    (hex of each 8-octet community); 32 LARGE_COMMUNITY ``values: ["a:b:c"]``;
    any other attribute ``raw`` = hex of the attribute value.

  A prefix is ``"10.0.0.0/24"``; when tshark decoded an ADD-PATH path identifier
  it is ``"10.0.0.0/24#7"``. tshark has no session context: it *guesses* whether
  NLRI carry path identifiers (heuristic, per NLRI block). The vector files record
  the real per-direction ADD-PATH context next to the dissection; a consumer should
  trust the context and treat ``#id`` as tshark's reading only.
  An End-of-RIB is normalized plainly (empty lists, or an MP_UNREACH_NLRI with an
  empty ``withdrawn``).

* NOTIFICATION: ``code, subcode, data`` (hex; for a Cease with a shutdown
  communication, ``data`` is length octet + UTF-8 text and ``communication`` holds
  the text).
* ROUTE-REFRESH: ``afi, safi, subtype``.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any

# tshark's JSON repeats keys (e.g. one "bgp.cap" per capability), so it is loaded
# with an object_pairs_hook that keeps every pair in order.
Pairs = list[tuple[str, Any]]

TYPE_NAMES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}
TSHARK_TIMEOUT = 300.0

__all__ = ["TsharkError", "dissect", "normalize", "write_pcap"]


class TsharkError(RuntimeError):
    """tshark is missing, failed, or its output could not be paired with the input."""


# ----------------------------------------------------------------------------- pcap


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


_SRC_IP = bytes([192, 0, 2, 1])  # documentation addresses; the file never leaves disk
_DST_IP = bytes([192, 0, 2, 2])
_SPORT, _DPORT = 40179, 179
_MAX_SEG = 60000  # keeps IPv4 total length < 65536 for extended (RFC 8654) messages


def _frame(seq: int, ack: int, flags: int, payload: bytes) -> bytes:
    tcp_wo_csum = struct.pack("!HHIIBBHHH", _SPORT, _DPORT, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = _SRC_IP + _DST_IP + struct.pack("!BBH", 0, 6, len(tcp_wo_csum) + len(payload))
    csum = _csum(pseudo + tcp_wo_csum + payload)
    tcp = tcp_wo_csum[:16] + struct.pack("!H", csum) + tcp_wo_csum[18:]
    total = 20 + len(tcp) + len(payload)
    ip_wo = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, _SRC_IP, _DST_IP)
    ip = ip_wo[:10] + struct.pack("!H", _csum(ip_wo)) + ip_wo[12:]
    eth = bytes.fromhex("0200000000020200000000010800")
    return eth + ip + tcp + payload


def write_pcap(path: Path, messages: list[bytes]) -> None:
    """Write *messages* as one TCP stream (client -> port 179), one message per segment
    (messages longer than 60000 octets are split over several segments)."""
    isn, ack = 1000, 5000
    frames = [_frame(isn, 0, 0x02, b"")]  # SYN; the reverse direction is not needed
    seq = isn + 1
    for msg in messages:
        for off in range(0, len(msg), _MAX_SEG):
            chunk = msg[off : off + _MAX_SEG]
            frames.append(_frame(seq, ack, 0x18, chunk))  # PSH|ACK
            seq = (seq + len(chunk)) & 0xFFFFFFFF
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for n, fr in enumerate(frames):
            fh.write(struct.pack("<IIII", 1_700_000_000 + n // 1000, (n % 1000) * 1000, len(fr), len(fr)))
            fh.write(fr)


# ----------------------------------------------------------------------------- tshark


def _pairs_hook(pairs: Pairs) -> Pairs:
    return pairs


def _run_tshark(pcap: Path, prefs: dict[str, str] | None = None) -> list[Any]:
    exe = shutil.which("tshark")
    if exe is None:
        raise TsharkError("tshark is not installed (Debian package 'tshark')")
    # an empty private config dir: user preferences cannot change the dissection
    # (defaults: bgp.asn_len auto-detect, ADD-PATH heuristic detection)
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(pcap.parent / "wireshark-config")}
    try:
        proc = subprocess.run(
            [exe, "-n", "-r", str(pcap), "-T", "json", "-x", "-Y", "bgp",
             *[arg for k, v in (prefs or {}).items() for arg in ("-o", f"{k}:{v}")]],
            capture_output=True,
            timeout=TSHARK_TIMEOUT,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired as e:
        raise TsharkError(f"tshark timed out after {TSHARK_TIMEOUT}s") from e
    if proc.returncode != 0:
        raise TsharkError(f"tshark failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    data = json.loads(proc.stdout or b"[]", object_pairs_hook=_pairs_hook)
    if not isinstance(data, list):
        raise TsharkError("unexpected tshark JSON")
    return data


def _bgp_layers(packets: list[Any]) -> list[tuple[str, Pairs]]:
    """(raw hex, bgp tree) for every BGP PDU tshark found, in order."""
    out: list[tuple[str, Pairs]] = []
    for pkt in packets:
        layers = _get(_get(pkt, "_source"), "layers")
        raws = [_raw_hex(v) for k, v in layers if k == "bgp_raw"]
        trees = [v for k, v in layers if k == "bgp"]
        if len(raws) != len(trees):
            raise TsharkError("cannot pair bgp_raw with bgp trees")
        out.extend(zip(raws, trees, strict=True))
    return out


def dissect(messages: list[bytes], prefs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Dissect complete BGP messages with tshark; one normalized dict per message.

    ``prefs`` are tshark preferences, e.g. ``{"bgp.asn_len": "4 octet"}`` when the AS
    number width is known (tshark guesses it otherwise)."""
    if not messages:
        return []
    with tempfile.TemporaryDirectory(prefix="tshark-bgp-") as tmp:
        pcap = Path(tmp) / "bgp.pcap"
        write_pcap(pcap, messages)
        layers = _bgp_layers(_run_tshark(pcap, prefs))
    if len(layers) != len(messages):
        raise TsharkError(f"tshark reported {len(layers)} BGP messages for {len(messages)} given")
    result = []
    for msg, (raw, tree) in zip(messages, layers, strict=True):
        if raw != msg.hex():
            raise TsharkError(f"tshark BGP PDU {raw[:80]}... does not match input {msg.hex()[:80]}...")
        result.append(normalize(tree))
    return result


# ----------------------------------------------------------------------------- tree access


def _get(node: Any, key: str, default: Any = None) -> Any:
    if isinstance(node, list):
        for k, v in node:
            if k == key:
                return v
    return default


def _all(node: Any, key: str) -> list[Any]:
    if not isinstance(node, list):
        return []
    return [v for k, v in node if k == key]


def _raw_hex(value: Any) -> str:
    """The hex string of a ``*_raw`` entry: ``[hex, offset, length, bitmask, type]``."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    if isinstance(value, str):
        return value
    raise TsharkError(f"unexpected raw value {value!r}")


def _int(value: Any) -> int:
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    raise TsharkError(f"expected a number, got {value!r}")


def _hexcolon(value: str) -> str:
    return value.replace(":", "").lower()


# ----------------------------------------------------------------------------- normalize


def normalize(bgp: Pairs) -> dict[str, Any]:
    """Normalize tshark's JSON tree (object pairs) for one BGP message."""
    mtype = _int(_get(bgp, "bgp.type"))
    out: dict[str, Any] = {
        "type": TYPE_NAMES.get(mtype, f"TYPE-{mtype}"),
        "length": _int(_get(bgp, "bgp.length")),
    }
    if mtype == 1:
        out.update(normalize_open(bgp))
    elif mtype == 2:
        out.update(normalize_update(bgp))
    elif mtype == 3:
        out.update(normalize_notification(bgp))
    elif mtype == 5:
        out.update(normalize_route_refresh(bgp))
    return out


def normalize_open(bgp: Pairs) -> dict[str, Any]:
    caps: list[dict[str, Any]] = []
    for opt in _all(bgp, "bgp.open.opt"):
        for param in _all(opt, "bgp.open.opt.param"):
            cap_nodes = _all(param, "bgp.cap")
            cap_raws = [_raw_hex(v) for v in _all(param, "bgp.cap_raw")]
            if len(cap_raws) != len(cap_nodes):
                raise TsharkError("cannot pair bgp.cap with bgp.cap_raw")
            caps.extend(_normalize_cap(c, r) for c, r in zip(cap_nodes, cap_raws, strict=True))
    return {
        "version": _int(_get(bgp, "bgp.open.version")),
        "my_as": _int(_get(bgp, "bgp.open.myas")),
        "hold_time": _int(_get(bgp, "bgp.open.holdtime")),
        "bgp_id": _get(bgp, "bgp.open.identifier"),
        "capabilities": caps,
    }


def _zip_fields(node: Pairs, fields: dict[str, str]) -> list[dict[str, Any]]:
    cols = {name: [_int(v) for v in _all(node, f)] for name, f in fields.items()}
    n = len(next(iter(cols.values())))
    if any(len(c) != n for c in cols.values()):
        raise TsharkError(f"ragged capability fields {fields}")
    return [{name: cols[name][i] for name in cols} for i in range(n)]


def _normalize_cap(cap: Pairs, raw: str) -> dict[str, Any]:
    code = _int(_get(cap, "bgp.cap.type"))
    out: dict[str, Any] = {"code": code}
    unknown = _get(cap, "bgp.cap.unknown")
    if unknown is not None:
        # tshark 4.0 does not decode this capability (e.g. 71, long-lived GR)
        out["raw"] = _hexcolon(unknown)
        return out
    if code == 1:
        out["afi"] = _int(_get(cap, "bgp.cap.mp.afi"))
        out["safi"] = _int(_get(cap, "bgp.cap.mp.safi"))
    elif code == 5:
        out["families"] = _zip_fields(
            cap, {"afi": "bgp.cap.enh.afi", "safi": "bgp.cap.enh.safi", "nh_afi": "bgp.cap.enh.nhafi"}
        )
    elif code == 64:
        timers = _get(cap, "bgp.cap.gr.timers")
        tree = _get(cap, "bgp.cap.gr.timers_tree")
        out["restart_flags"] = _int(timers) >> 12
        out["restart_time"] = _int(_get(tree, "bgp.cap.gr.timers.restart_time"))
        out["families"] = _zip_fields(
            cap, {"afi": "bgp.cap.gr.afi", "safi": "bgp.cap.gr.safi", "flags": "bgp.cap.gr.flag"}
        )
    elif code == 65:
        out["asn"] = _int(_get(cap, "bgp.cap.4as"))
    elif code == 69:
        out["families"] = _zip_fields(
            cap,
            {"afi": "bgp.cap.ap.afi", "safi": "bgp.cap.ap.safi", "send_receive": "bgp.cap.ap.sendreceive"},
        )
    elif code == 73:
        out["hostname"] = _get(cap, "bgp.cap.orf.fqdn.hostname", "")
        out["domain"] = _get(cap, "bgp.cap.orf.fqdn.domain_name", "")
    elif _int(_get(cap, "bgp.cap.length", "0")) > 0:
        # decoded by tshark but not part of this schema: keep the value octets
        # (the byte range tshark assigns to the capability, minus code and length)
        out["raw"] = raw[4:]
    return out


def _prefixes(container: Any) -> list[str]:
    """Prefixes below a withdrawn/NLRI/MP container. tshark labels each prefix with a
    text node (e.g. "10.0.0.0/24 PathId 1 ") holding prefix, length and path id."""
    out: list[str] = []
    if not isinstance(container, list):
        return out
    for _label, node in container:
        if not isinstance(node, list):
            continue
        length = _get(node, "bgp.prefix_length")
        if length is None:
            continue
        prefix = next((v for k, v in node if k.endswith("_prefix") and isinstance(v, str)), None)
        if prefix is None:
            raise TsharkError(f"no prefix field in {node!r}")
        s = f"{prefix}/{_int(length)}"
        path_id = _get(node, "bgp.nlri_path_id")
        if path_id is not None:
            s += f"#{_int(path_id)}"
        out.append(s)
    return out


def normalize_update(bgp: Pairs) -> dict[str, Any]:
    attrs: list[dict[str, Any]] = []
    for group in _all(bgp, "bgp.update.path_attributes"):
        attr_nodes = _all(group, "bgp.update.path_attribute")
        attr_raws = _all(group, "bgp.update.path_attribute_raw")
        for i, node in enumerate(attr_nodes):
            raw = _raw_hex(attr_raws[i]) if i < len(attr_raws) else ""
            attrs.append(_normalize_attr(node, raw))
    return {
        "withdrawn": _prefixes(_get(bgp, "bgp.update.withdrawn_routes")),
        "nlri": _prefixes(_get(bgp, "bgp.update.nlri")),
        "attributes": attrs,
    }


PA = "bgp.update.path_attribute."


def _segments(node: Pairs, seg_key: str) -> list[dict[str, Any]]:
    segs = []
    for seg in _all(node, seg_key):
        asns = [_int(v) for k, v in seg if k.endswith(".as2") or k.endswith(".as4")]
        segs.append({"type": _int(_get(seg, seg_key + ".type")), "asns": asns})
    return segs


def _community(value: str) -> str:
    v = _int(value)
    return f"{v >> 16}:{v & 0xFFFF}"


def _normalize_attr(node: Pairs, raw: str) -> dict[str, Any]:
    flags = _int(_get(node, PA + "flags"))
    code = _int(_get(node, PA + "type_code"))
    out: dict[str, Any] = {"type": code, "flags": flags}
    if code == 1:
        out["value"] = _int(_get(node, PA + "origin"))
    elif code in (2, 17):
        # tshark 4.0 uses the same segment fields for AS_PATH and AS4_PATH
        out["segments"] = _segments(node, PA + "as_path_segment")
    elif code == 3:
        out["value"] = _get(node, PA + "next_hop")
    elif code == 4:
        out["value"] = _int(_get(node, PA + "multi_exit_disc"))
    elif code == 5:
        out["value"] = _int(_get(node, PA + "local_pref"))
    elif code == 6:
        pass
    elif code in (7, 18):
        # same fields for AGGREGATOR and AS4_AGGREGATOR in tshark 4.0
        asn, address = _get(node, PA + "aggregator_as"), _get(node, PA + "aggregator_origin")
        if asn is None or address is None:
            out["raw"] = _attr_value_hex(raw, flags)
        else:
            out["asn"], out["address"] = _int(asn), address
    elif code == 8:
        vals: list[str] = []
        for k, v in _get(node, PA + "communities", []):
            if k == PA + "community_wellknown":
                vals.append(_community(v))
            elif k == PA + "community":
                vals.append(f"{_int(_get(v, PA + 'community_as'))}:{_int(_get(v, PA + 'community_value'))}")
        out["values"] = vals
    elif code == 9:
        out["value"] = _get(node, PA + "originator_id")
    elif code == 10:
        out["values"] = _all(
            _get(node, "bgp.path_attribute.cluster_list", []), "bgp.path_attribute.cluster_id"
        )
    elif code == 14:
        out["afi"] = _int(_get(node, PA + "mp_reach_nlri.afi"))
        out["safi"] = _int(_get(node, PA + "mp_reach_nlri.safi"))
        tree = _get(node, PA + "mp_reach_nlri.next_hop_tree", [])
        out["next_hops"] = [
            v for k, v in tree if isinstance(v, str) and k.startswith(PA + "mp_reach_nlri.next_hop.")
        ]
        out["nlri"] = _prefixes(_get(node, PA + "mp_reach_nlri"))
    elif code == 15:
        out["afi"] = _int(_get(node, PA + "mp_unreach_nlri.afi"))
        out["safi"] = _int(_get(node, PA + "mp_unreach_nlri.safi"))
        out["withdrawn"] = _prefixes(_get(node, PA + "mp_unreach_nlri"))
    elif code == 16:
        comms = _get(node, "bgp.ext_communities", [])
        out["values"] = [_raw_hex(v) for k, v in comms if k == "bgp.ext_community_raw"]
    elif code == 32:
        trees = _all(node, "bgp.large_communities_tree")
        out["values"] = [
            ":".join(str(_int(_get(t, f"bgp.large_communities.{p}"))) for p in ("ga", "ldp1", "ldp2"))
            for t in trees
        ]
    else:
        out["raw"] = _attr_value_hex(raw, flags)
    return out


def _attr_value_hex(raw: str, flags: int) -> str:
    """Attribute value from the byte range tshark assigns to the whole attribute."""
    header = 4 if flags & 0x10 else 3
    return raw[header * 2 :]


def normalize_notification(bgp: Pairs) -> dict[str, Any]:
    out: dict[str, Any] = {"code": _int(_get(bgp, "bgp.notify.major_error"))}
    sub = next((v for k, v in bgp if k.startswith("bgp.notify.minor_error") and not k.endswith("_raw")), None)
    out["subcode"] = _int(sub) if sub is not None else 0
    comm = _get(bgp, "bgp.notify.communication")
    comm_len = _get(bgp, "bgp.notify.communication_length")
    data = _get(bgp, "bgp.notify.minor_data")
    if comm_len is not None:
        text = comm or ""
        out["communication"] = text
        out["data"] = f"{_int(comm_len):02x}" + text.encode().hex()
    elif data is not None:
        out["data"] = _hexcolon(data)
    else:
        out["data"] = ""
    return out


def normalize_route_refresh(bgp: Pairs) -> dict[str, Any]:
    return {
        "afi": _int(_get(bgp, "bgp.route_refresh.afi")),
        "safi": _int(_get(bgp, "bgp.route_refresh.safi")),
        "subtype": _int(_get(bgp, "bgp.route_refresh.subtype", "0")),
    }
