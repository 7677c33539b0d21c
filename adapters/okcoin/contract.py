"""OKCoin contract: OKX's v5 message contracts, documented at OKCoin's own docs.

The structs and the rules are OKX's (``adapters.okx.contract``); each message keeps its
section anchor, under https://www.okcoin.com/docs-v5/en/ instead of OKX's docs. OKCoin
is spot only, so the derivative channels are not part of its contract; its 2023
recording's books carry no ``seqId``/``prevSeqId``, and the adapter does not rely on
them (in-band snapshots, checksums), so the contract does not require them.
"""

from __future__ import annotations

import dataclasses

from adapters.okx import contract as okx
from collector.contract.model import Doc, MessageContract, VenueContract

CHECKED = "2026-12-07"
DOCS = "https://www.okcoin.com/docs-v5/en/"


_SEQUENCE_IDS = ("data[].seqId", "data[].prevSeqId")


def _at_okcoin(message: MessageContract) -> MessageContract:
    """``message`` documented at the same anchor of OKCoin's docs, sequence ids optional."""
    anchor = message.doc.url.partition("#")[2]
    required = tuple(p for p in message.required if p not in _SEQUENCE_IDS)
    return dataclasses.replace(message, doc=Doc(f"{DOCS}#{anchor}", CHECKED), required=required)


_SPOT = (
    okx.BOOKS,
    okx.BOOKS5,
    okx.BBO,
    okx.TRADES,
    okx.TICKERS,
    okx.EVENT,
    okx.INSTRUMENTS,
)
#: Understood, not stored: the text heartbeat reply and the candle channel.
IGNORED = okx.IGNORED | {"candle1m"}

CONTRACT = VenueContract(
    venue="okcoin",
    messages=tuple(_at_okcoin(m) for m in _SPOT),
    rules=dataclasses.replace(
        okx.CONTRACT.rules, doc=Doc(DOCS + "#overview-websocket-connect", CHECKED)
    ),
    classifier=okx.CONTRACT.classifier,
    rest_classifier=okx.CONTRACT.rest_classifier,
    ignored=IGNORED,
)
