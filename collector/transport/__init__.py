"""The daemon's network I/O: supervised websockets, rate-limited REST, retry timing.

Adapters describe connections (:class:`~collector.adapter.ConnectionPlan`,
:class:`~collector.adapter.RestRequest`); this package performs them, and is the
only place that sleeps, retries or reads a clock for the network.
"""

from collector.transport.rest import RestClient, RestResponse
from collector.transport.retry import Backoff, retry_after_seconds
from collector.transport.ws import FrameHandler, WsSupervisor

__all__ = [
    "Backoff",
    "FrameHandler",
    "RestClient",
    "RestResponse",
    "WsSupervisor",
    "retry_after_seconds",
]
