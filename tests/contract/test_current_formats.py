"""Today's documented formats pass their contracts, where no shared recording has them.

The shared recordings predate several current formats (Kraken WS v2, OKX seqId, BitMEX
rows with price and timestamp, Coinbase Exchange ticker sizes, Bitfinex checksums), so
the offline suite alone would never show these contracts accepting a live frame. These
frames follow the documentation examples (the same ones the adapter tests decode); each
is also shown to fail once it is put back into its old shape.
"""

from __future__ import annotations

import json

import pytest

from adapters.contracts import CONTRACTS
from collector.contract.validate import Validator

KRAKEN_BOOK = (
    '{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5666,'
    '"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739}],"asks":[{"price":0.5668,'
    '"qty":4410.79769741}],"checksum":2439117997,"timestamp":"2023-10-06T17:35:55.440295Z"}]}'
)
KRAKEN_TRADE = (
    '{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"sell",'
    '"price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,'
    '"timestamp":"2023-09-25T07:49:37.708706Z"}]}'
)
KRAKEN_ACK = (
    '{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,'
    '"symbol":"MATIC/USD"},"success":true,"time_in":"2023-10-06T17:35:55.385Z",'
    '"time_out":"2023-10-06T17:35:55.386Z"}'
)
OKX_BOOK = (
    '{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
    '[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"]],"ts":"1597026383085",'
    '"checksum":0,"prevSeqId":123,"seqId":130}]}'
)
BITMEX_BOOK = (
    '{"table":"orderBookL2","action":"update","data":[{"symbol":"ETHUSDT","id":1,"side":"Buy",'
    '"size":2,"price":1800.25,"timestamp":"2023-10-01T00:00:00.050Z"}]}'
)
COINBASE_EX_TICKER = (
    '{"type":"ticker","sequence":1,"product_id":"BTC-USD","price":"1","best_bid":"1.0",'
    '"best_bid_size":"2","best_ask":"1.1","best_ask_size":"3","time":"2021-04-17T16:43:30Z"}'
)
CASES = [
    ("kraken", KRAKEN_BOOK, "book", "data.0.bids.0.price", "0.5666"),
    ("kraken", KRAKEN_TRADE, "trade", "data.0.price", "0.5117"),
    ("kraken", KRAKEN_ACK, "method", "result.depth", "10"),
    ("okx", OKX_BOOK, "books", "data.0.seqId", None),
    ("bitmex", BITMEX_BOOK, "orderBookL2", "data.0.timestamp", None),
    ("coinbase-exchange", COINBASE_EX_TICKER, "ticker", "best_bid_size", None),
]


def _set(doc: dict, path: str, value: object) -> None:
    """Replace (value) or delete (None) the field at a dotted path with list indices."""
    *head, last = path.split(".")
    for step in head:
        doc = doc[int(step)] if step.isdigit() else doc[step]
    if value is None:
        del doc[last]
    else:
        doc[int(last) if last.isdigit() else last] = value


@pytest.mark.parametrize(("slug", "frame", "name", "path", "old"), CASES)
def test_documented_frame_passes_and_its_old_shape_fails(
    slug: str, frame: str, name: str, path: str, old: str | None
) -> None:
    validator = Validator(CONTRACTS[slug])
    assert validator.frame(frame, 0) == (name, [])
    doc = json.loads(frame)
    _set(doc, path, old)  # v1-style text number, or the field the old API lacked
    kind = "type_change" if old is not None else "missing_field"
    _, drifts = validator.frame(json.dumps(doc), 0)
    assert [d.kind for d in drifts] == [kind]


def test_bitfinex_checksum_frame_after_subscribe() -> None:
    validator = Validator(CONTRACTS["bitfinex"])
    ack = '{"event":"subscribed","channel":"book","chanId":17,"symbol":"tBTCUSD","prec":"P0",'
    ack += '"freq":"F0","len":"25","pair":"BTCUSD"}'
    assert validator.frame(ack, 0) == ("event", [])
    assert validator.frame('[17,"cs",-1234567,3]', 0) == ("book.cs", [])
    _, drifts = validator.frame('[17,"cs","-1234567",4]', 0)  # checksum sent as text
    assert [(d.kind, d.field) for d in drifts] == [("type_change", "[2]")]
