"""REST requests that survive rate limits, bans, outages and timeouts.

Book snapshots come over REST, and a venue that is rate-limiting us is exactly
the moment a careless client gets banned. So :class:`RestClient` keeps to the
venue's request weight *before* sending, treats ``429`` as "slow down" and
``418`` as "banned for a while" for the whole host, honours ``Retry-After``, and
otherwise retries with :class:`~collector.transport.retry.Backoff`. Answers the
caller must judge (2xx, other 4xx) are returned as they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
import msgspec

from collector.transport.neterrors import reached, report_dns, short_error
from collector.transport.retry import Backoff, retry_after_seconds
from collector.transport.ws import loggable_url

log = logging.getLogger(__name__)

#: Binance's used-weight header; its window is the UTC clock minute.
USED_WEIGHT_HEADER = "x-mbx-used-weight-1m"
#: Share of the per-minute weight we allow ourselves; the rest absorbs requests
#: in flight and other processes on the same IP.
WEIGHT_BUDGET = 0.9
#: Extra wait after the minute boundary, for clock skew between us and the venue.
MINUTE_MARGIN_S = 0.5

RateLimitedCallback = Callable[[str, int, float | None], None]


class RestResponse(msgspec.Struct):
    """A completed HTTP answer. Header names are lower-cased (they are case-insensitive);
    ``ts_recv`` is ``time.time_ns()`` once the whole body was read."""

    url: str
    status: int
    body: bytes
    ts_recv: int
    headers: dict[str, str]


class RestClient:
    """One ``aiohttp`` session (created on first use) with retries and rate limits.

    ``rate_limited`` counts the 429/418 answers seen; ``on_rate_limited(url,
    status, retry_after)`` is called for each, so the daemon can write quality
    events. ``clock`` (wall-clock seconds) and ``sleep`` decide the rate-limit
    waits and exist so tests need not wait for a real minute.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        weight_limit_per_minute: int | None = None,
        backoff: Backoff | None = None,
        on_rate_limited: RateLimitedCallback | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._weight_limit = weight_limit_per_minute
        self._backoff = backoff or Backoff()
        self._on_rate_limited = on_rate_limited
        self._clock = clock
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._used: dict[str, tuple[int, int]] = {}  # host -> (UTC minute, weight used)
        self._blocked_until: dict[str, float] = {}  # host -> clock() time after a 418/429
        self.rate_limited = 0

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self, url: str, weight: int = 1, *, max_attempts: int | None = None
    ) -> RestResponse:
        """GET ``url``, retrying 429/418/5xx, timeouts and connection errors.

        ``weight`` is the venue's cost of the request. With ``max_attempts``
        (default: unlimited) the last answer is returned, or the last network
        error raised, once the attempts are used up.
        """
        return await self.request("GET", url, weight, max_attempts=max_attempts)

    async def request(
        self, method: str, url: str, weight: int = 1, *, max_attempts: int | None = None
    ) -> RestResponse:
        """``method`` (GET, or a body-less POST such as KuCoin's token call) as ``get``."""
        if max_attempts is not None and max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        host = urlsplit(url).netloc
        backoff = self._backoff.fresh()
        attempt = 0
        while True:
            attempt += 1
            last = max_attempts is not None and attempt >= max_attempts
            await self._respect_limits(host, weight)
            try:
                response = await self._fetch(method, url)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if last:
                    raise
                delay = backoff.next_delay()
                if not report_dns(log, exc, url):
                    shown, why = loggable_url(url), short_error(exc, url)
                    log.warning("%s %s failed (%s); retry in %.2f s", method, shown, why, delay)
                await self._sleep(delay)
                continue
            reached(url)
            self._note_weight(host, response.headers)
            status = response.status
            if status not in (418, 429) and status < 500:
                return response
            retry_after = retry_after_seconds(response.headers, status, self._clock())
            delay = retry_after if retry_after is not None else backoff.next_delay()
            if status in (418, 429):
                # Binance bans an IP that keeps asking after a 429: hold back the whole host.
                self.rate_limited += 1
                self._blocked_until[host] = max(
                    self._blocked_until.get(host, 0.0), self._clock() + delay
                )
                if self._on_rate_limited is not None:
                    self._on_rate_limited(url, status, retry_after)
            if last:
                return response
            log.warning("%s %s: HTTP %d; retry in %.2f s", method, loggable_url(url), status, delay)
            if status >= 500:
                await self._sleep(delay)  # rate limits wait in _respect_limits instead

    async def _fetch(self, method: str, url: str) -> RestResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.request(method, url) as resp:
            body = await resp.read()
            ts_recv = time.time_ns()
            headers = {k.lower(): v for k, v in resp.headers.items()}
            return RestResponse(url, resp.status, body, ts_recv, headers)

    async def _respect_limits(self, host: str, weight: int) -> None:
        """Wait out a ban/Retry-After for ``host`` and, with a weight limit, keep under
        ``WEIGHT_BUDGET`` of it in the current UTC minute; then count ``weight`` as used."""
        while True:
            now = self._clock()
            blocked = self._blocked_until.get(host, 0.0) - now
            if blocked > 0:
                log.info("%s: rate limited, waiting %.2f s", host, blocked)
                await self._sleep(blocked)
                continue
            if self._weight_limit is None:
                return
            minute = int(now // 60)
            seen, used = self._used.get(host, (minute, 0))
            if seen != minute:
                used = 0
            # A request heavier than the whole budget still goes, alone, in a fresh minute.
            if used > 0 and used + weight > WEIGHT_BUDGET * self._weight_limit:
                wait = (minute + 1) * 60 - now + MINUTE_MARGIN_S
                log.info(
                    "%s: weight %d/%d used, waiting %.2f s", host, used, self._weight_limit, wait
                )
                await self._sleep(wait)
                continue
            self._used[host] = (minute, used + weight)  # counts requests in flight too
            return

    def _note_weight(self, host: str, headers: dict[str, str]) -> None:
        """Take the venue's own count of the minute's weight (it includes other clients)."""
        value = headers.get(USED_WEIGHT_HEADER)
        if value is None or not value.strip().isdigit():
            return
        minute = int(self._clock() // 60)
        seen, used = self._used.get(host, (minute, 0))
        reported = int(value)
        self._used[host] = (minute, max(used, reported) if seen == minute else reported)
