"""Golden vectors from real sessions between gobgpd, BIRD and FRR (tests/vectors/peers):
every captured message decodes to what tshark's dissector saw when it was captured, and
re-encodes byte for byte. The captures are data; this test needs no daemon or tshark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gracebgp.types import IPV4_UNICAST, make_family
from gracebgp.wire import CodecContext, UpdateAction, UpdateResult, decode_message, encode_message

from .. import ournorm

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "peers"
FILES = sorted(VECTORS.glob("*.jsonl"))


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def context(record: dict[str, Any]) -> CodecContext:
    c = record["context"]
    # ibgp=True keeps LOCAL_PREF from every session, so the re-encoding is complete.
    return CodecContext(as4=c["as4"], addpath=frozenset(make_family(a, s) for a, s in c["addpath"]),
                        extended_message=c["extended_message"], ibgp=True,
                        extended_next_hop=frozenset(make_family(a, s)
                                                    for a, s in c.get("extended_next_hop", ())))


def test_vectors_from_all_three_real_peers_are_present() -> None:
    senders = {load(f)[0]["sender"].split()[0].lower() for f in FILES}
    assert {"gobgpd", "bird", "frr"} <= {s if s != "bgpd" else "frr" for s in senders}, senders


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_vector_file_decodes_as_tshark_saw_it_and_reencodes_exactly(path: Path) -> None:
    records = load(path)
    assert records, f"{path} is empty"
    for rec in records:
        raw = bytes.fromhex(rec["hex"])
        ctx = context(rec)
        decoded = decode_message(raw, ctx)
        where = f"{path.name} #{rec['index']}"
        if isinstance(decoded, UpdateResult):
            assert decoded.action == UpdateAction.ACCEPT, (where, decoded.problems)
            assert decoded.update is not None
            again = encode_message(decoded.update, ctx)
        else:
            again = encode_message(decoded, ctx)
        assert again == raw, f"{where}: re-encoding differs"
        ours = ournorm.normalize(decoded, len(raw), ctx.as4, IPV4_UNICAST in ctx.addpath)
        ours = ournorm.strip_path_ids_tshark_did_not_read(ours, rec["tshark"])
        assert ours == rec["tshark"], where


def test_vectors_cover_the_features_that_matter() -> None:
    """The captures are only worth having if they exercise what the codec must handle."""
    seen: set[str] = set()
    for path in FILES:
        for rec in load(path):
            t = rec["tshark"]
            seen.add(t["type"])
            if t["type"] == "OPEN":
                seen.update(f"cap{c['code']}" for c in t["capabilities"])
            if t["type"] == "UPDATE":
                seen.update(f"attr{a['type']}" for a in t["attributes"])
                if not rec["context"]["as4"]:
                    seen.add("2-octet session")
                if rec["context"]["addpath"]:
                    seen.add("add-path session")
    wanted = {"OPEN", "UPDATE", "KEEPALIVE", "NOTIFICATION", "cap1", "cap2", "cap64", "cap65", "cap69",
              "attr1", "attr2", "attr3", "attr4", "attr5", "attr8", "attr14", "attr15", "attr32"}
    assert wanted <= seen, sorted(wanted - seen)
