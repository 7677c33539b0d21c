"""HTX (formerly Huobi) wire structs: spot ``/ws`` and ``/feed``, USD-M/coin-M swaps.

Verbatim field names, one doc URL each. Every frame arrives gzip-compressed in a
binary websocket frame; the pipeline inflates it (``collector.frames``), so these
structs only ever see the JSON text. Prices and sizes are JSON numbers, sometimes
in exponent form (``9.121E-7``): they stay ``msgspec.Raw`` (their exact text) and
become plain decimal text in the adapter, never a float.

Docs: spot https://www.htx.com/en-us/opend/newApiPages/ (formerly
https://huobiapi.github.io/docs/spot/v1/en/), USDT-M swaps
https://huobiapi.github.io/docs/usdt_swap/v1/en/, coin-M swaps
https://huobiapi.github.io/docs/coin_margined_swap/v1/en/.
"""

from __future__ import annotations

import msgspec

SPOT_DOCS = "https://huobiapi.github.io/docs/spot/v1/en/"
LINEAR_DOCS = "https://huobiapi.github.io/docs/usdt_swap/v1/en/"
INVERSE_DOCS = "https://huobiapi.github.io/docs/coin_margined_swap/v1/en/"

Level = list[msgspec.Raw]  # [price, size]: JSON numbers, exact text


class Envelope(msgspec.Struct, gc=False, frozen=True):
    """Every websocket message: a push (``ch`` + ``tick``), a server ``ping``, a
    subscription answer (``subbed``), a ``req`` answer (``rep`` + ``data``) or an error
    (``status`` "error" with ``err-code``/``err-msg``).

    Doc: SPOT_DOCS#websocket-market-data ("Heartbeat and Connection", "Subscribe to
    a Topic", "Pull Data"); the swap docs use the same envelope (``id`` as a string).
    """

    ch: str | None = None
    ts: int | None = None  # ms: when the message was sent
    tick: msgspec.Raw = msgspec.Raw()  # empty when absent
    ping: int | None = None
    id: msgspec.Raw = msgspec.Raw()  # the client's request id (number on spot, string on swaps)
    status: str | None = None  # "ok" | "error"
    subbed: str | None = None
    unsubbed: str | None = None
    rep: str | None = None
    data: msgspec.Raw = msgspec.Raw()  # empty when absent
    err_code: str | None = msgspec.field(default=None, name="err-code")
    err_msg: str | None = msgspec.field(default=None, name="err-msg")


class DepthTick(msgspec.Struct, gc=False, frozen=True):
    """``market.$symbol.depth.$type`` (spot) / ``market.$contract_code.depth.$type`` (swaps):
    the full book (150 levels at ``step0``) in every push.

    Doc: SPOT_DOCS#market-depth; LINEAR_DOCS#subscribe-market-depth-data (``mrid``,
    ``id``, ``ch`` in the tick, sizes in contracts).
    """

    bids: list[Level] = []
    asks: list[Level] = []
    ts: int | None = None  # ms: the book's time
    version: int | None = None
    mrid: int | None = None  # swaps: the id of the last match in the book
    id: int | None = None  # swaps: seconds
    ch: str | None = None  # swaps repeat the topic here


class MbpTick(msgspec.Struct, gc=False, frozen=True):
    """``market.$symbol.mbp.$levels`` incremental push, and its ``req`` full answer (no
    ``prevSeqNum``). A size of 0 deletes the level; ``prevSeqNum`` names the previous
    push's ``seqNum`` (ids are not consecutive).

    Doc: SPOT_DOCS#market-by-price-incremental-update
    """

    seqNum: int
    prevSeqNum: int | None = None
    bids: list[Level] = []
    asks: list[Level] = []


class Trade(msgspec.Struct, gc=False, frozen=True):
    """One trade of a ``trade.detail`` push. ``direction`` is the taker's side.

    Doc: SPOT_DOCS#trade-detail (``tradeId`` is the unique trade id; ``id`` is a
    legacy 27-digit id, kept as text); LINEAR_DOCS#subscribe-trade-detail-data
    (``id`` unique, ``amount`` in contracts, ``quantity`` in coins).
    """

    price: msgspec.Raw
    amount: msgspec.Raw
    direction: str
    ts: int  # ms
    id: msgspec.Raw = msgspec.Raw()  # empty when absent
    tradeId: int | None = None
    quantity: msgspec.Raw = msgspec.Raw()  # swaps
    trade_turnover: msgspec.Raw = msgspec.Raw()  # swaps


class TradeTick(msgspec.Struct, gc=False, frozen=True):
    """``market.$symbol.trade.detail``. Doc: SPOT_DOCS#trade-detail"""

    data: list[Trade]
    id: int | None = None
    ts: int | None = None


class Bbo(msgspec.Struct, gc=False, frozen=True):
    """``market.$symbol.bbo``: the best bid and offer. Spot sends numbers with their sizes
    (``bid``, ``bidSize``, ``quoteTime``); swaps send ``[price, size]`` pairs.

    Doc: SPOT_DOCS#best-bid-offer; LINEAR_DOCS#subscribe-market-bbo-data-push
    """

    bid: msgspec.Raw = msgspec.Raw(b"null")
    ask: msgspec.Raw = msgspec.Raw(b"null")
    bidSize: msgspec.Raw = msgspec.Raw(b"null")  # spot
    askSize: msgspec.Raw = msgspec.Raw(b"null")  # spot
    quoteTime: int | None = None  # spot, ms
    seqId: int | None = None  # spot
    symbol: str | None = None  # spot
    ts: int | None = None  # swaps, ms
    mrid: int | None = None  # swaps
    id: int | None = None  # swaps
    version: int | None = None  # swaps
    ch: str | None = None  # swaps


class SpotSymbol(msgspec.Struct, gc=False, frozen=True, rename="kebab"):
    """One entry of ``GET /v1/common/symbols``. Doc: SPOT_DOCS#get-all-supported-trading-symbol"""

    symbol: str
    base_currency: str
    quote_currency: str
    state: str | None = None


class SpotSymbols(msgspec.Struct, gc=False, frozen=True):
    status: str
    data: list[SpotSymbol] = []


class Contract(msgspec.Struct, gc=False, frozen=True):
    """One entry of ``swap_contract_info``. Doc: LINEAR_DOCS#query-swap-info,
    INVERSE_DOCS#query-swap-info"""

    symbol: str
    contract_code: str
    contract_size: msgspec.Raw = msgspec.Raw()
    price_tick: msgspec.Raw = msgspec.Raw()
    contract_status: int | None = None
    business_type: str | None = None  # linear only: "swap" | "futures"
    contract_type: str | None = None  # linear only: "swap" | "this_week" | ...
    pair: str | None = None


class Contracts(msgspec.Struct, gc=False, frozen=True):
    status: str
    data: list[Contract] = []


envelope = msgspec.json.Decoder(Envelope)
depth_tick = msgspec.json.Decoder(DepthTick)
mbp_tick = msgspec.json.Decoder(MbpTick)
trade_tick = msgspec.json.Decoder(TradeTick)
bbo = msgspec.json.Decoder(Bbo)
pair = msgspec.json.Decoder(list[msgspec.Raw] | None)
spot_symbols = msgspec.json.Decoder(SpotSymbols)
contracts = msgspec.json.Decoder(Contracts)
