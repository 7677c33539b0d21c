"""OKCoin v5 spot market data: OKX's protocol, OKCoin's hosts, OKCoin's markets.

OKCoin runs the OKX v5 API (docs: https://www.okcoin.com/docs-v5/en/, written from the
same source as https://www.okx.com/docs-v5/en/): the same ``op``/``args`` subscribe
frames, ``books`` snapshot and ``update`` pushes with the same 25+25 interleaved signed
CRC32 checksum, the same ``trades`` rows, ``ping``/``pong`` and instruments body. So the
adapter is ``OkxAdapter`` with what differs overridden, and nothing copied:

* hosts: ``wss://real.okcoin.com:8443/ws/v5/public`` (the recording's connection) and
  ``https://www.okcoin.com/api/v5/public/instruments?instType=SPOT``;
* markets: spot only (``BTC-USD``, ``USDT-USD``), so no derivatives channels and one
  instrument list;
* book resync: OKCoin's ``books`` pushes carry no ``seqId``/``prevSeqId`` (none in the
  2023 recording, and OKCoin announced no removal of the in-band snapshot, as OKX did).
  A REST book without ``seqId`` cannot be bridged, so a broken book is resynced by
  reconnecting (a new subscription starts with the snapshot), not over REST;
* the trades channel's first push on a connection repeats the instrument's last trade
  from before the subscription (every instrument of the OKCoin recording, hours old on
  its thin markets; OKX's recording shows the same, 25 s old). Stored, it would be an
  hours-old row, again on every reconnect: it is ignored. Trades after it are stored.
"""

from __future__ import annotations

import msgspec

from adapters.okx import wire
from adapters.okx.adapter import OkxAdapter, _trade
from collector.adapter import RestRequest, grammar
from collector.model import Control, Message

PUBLIC_URL = "wss://real.okcoin.com:8443/ws/v5/public"
INSTRUMENTS_URL = "https://www.okcoin.com/api/v5/public/instruments"
BOOKS_URL = "https://www.okcoin.com/api/v5/market/books"
#: ``BTC-USD``, ``USDT-USD``, ``USDC-USDT``: spot pairs only.
SYMBOLS = grammar(r"[A-Z0-9]+-[A-Z0-9]+", "BASE-QUOTE in upper case", "BTC-USD", "USDC-USDT")


class OkcoinAdapter(OkxAdapter):
    """``OkxAdapter`` on OKCoin's hosts, spot only, resynced by reconnecting."""

    public_url = PUBLIC_URL
    instruments_url = INSTRUMENTS_URL
    instrument_types = ("SPOT",)
    books_url = BOOKS_URL

    def __init__(self) -> None:
        super().__init__("okcoin")
        self.symbol_grammar = SYMBOLS
        self.derivative_channels = ()
        #: (connection, instrument) pairs whose subscribe-time trades push has come.
        self._trades_started: set[tuple[int, str]] = set()

    def snapshot_request(self, symbol: str) -> RestRequest | None:  # type: ignore[override]
        return None  # in-band snapshots only: see the module docstring

    def _trades(self, raw: msgspec.Raw, ts_recv: int, conn: int) -> list[Message]:
        rows = wire.trades.decode(raw)
        if not rows:
            return []
        key = (conn, rows[0].instId)
        if key not in self._trades_started:
            self._trades_started.add(key)
            return [Control("ignored", ts_recv, "trades push on subscribe: from before it", key[1])]
        return [_trade(t, ts_recv) for t in rows]
