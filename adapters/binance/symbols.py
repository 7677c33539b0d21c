"""Binance native symbols -> normalized market names.

Exact when ``exchangeInfo`` has been loaded (base and quote assets, contract
type, delivery date). Without it, a symbol is split on the longest known quote
asset, which is right for every symbol in our recordings; an unsplittable
symbol keeps its native name rather than a guessed one.

* spot ``BTCUSDT`` -> ``BTC-USDT``
* USD-M ``BTCUSDT`` -> ``BTC-USDT-PERP``; ``BTCUSDT_261225`` -> ``BTC-USDT-20261225``
* COIN-M ``BTCUSD_PERP`` -> ``BTC-USD-PERP``; ``BTCUSD_211231`` -> ``BTC-USD-20211231``
"""

from __future__ import annotations

import msgspec

from adapters.binance.wire import ExchangeInfo

_QUOTES = sorted(
    (
        "USDT",
        "USDC",
        "FDUSD",
        "BUSD",
        "TUSD",
        "USDP",
        "USDS",
        "DAI",
        "PAX",
        "UST",
        "BTC",
        "ETH",
        "BNB",
        "XRP",
        "TRX",
        "DOGE",
        "DOT",
        "SOL",
        "EUR",
        "GBP",
        "AUD",
        "TRY",
        "BRL",
        "RUB",
        "UAH",
        "NGN",
        "ZAR",
        "IDRT",
        "BIDR",
        "BKRW",
        "BVND",
        "JPY",
        "ARS",
        "MXN",
        "PLN",
        "RON",
        "COP",
        "CZK",
        "USD",
        "VAI",
        "GYEN",
    ),
    key=len,
    reverse=True,
)


_exchange_info = msgspec.json.Decoder(ExchangeInfo)


class BinanceSymbols:
    def __init__(self, futures: bool) -> None:
        self.futures = futures
        self._known: dict[str, str] = {}

    def load_exchange_info(self, body: str | bytes) -> list[str]:
        """Learn the markets ``exchangeInfo`` lists; returns their symbols."""
        symbols = _exchange_info.decode(body).symbols
        for s in symbols:
            self._known[s.symbol] = self._name(s.baseAsset, s.quoteAsset, s.symbol)
        return [s.symbol for s in symbols]

    def market(self, symbol: str) -> str:
        name = self._known.get(symbol)
        if name is None:
            name = self._known[symbol] = self._guess(symbol)
        return name

    def _name(self, base: str, quote: str, symbol: str) -> str:
        if not self.futures:
            return f"{base}-{quote}"
        _, _, suffix = symbol.partition("_")
        if suffix in ("", "PERP"):
            return f"{base}-{quote}-PERP"
        return f"{base}-{quote}-20{suffix}"

    def _guess(self, symbol: str) -> str:
        pair, _, _ = symbol.partition("_")
        for quote in _QUOTES:
            if pair.endswith(quote) and len(pair) > len(quote):
                return self._name(pair[: -len(quote)], quote, symbol)
        return symbol
