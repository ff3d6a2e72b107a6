"""The simulated services' own parts: the health window, each service's state and metrics, the market
feed, the executors' trading metrics, and the role label on a scrape."""

from __future__ import annotations

import asyncio
import bisect
import collections
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from spark_ops.sim.faults import Fault

WINDOW_S = 60.0
TICK_INTERVAL_S = 0.25
SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "AVAX-USD", "DOT-USD")
STRATEGIES = ("momentum", "mean-reversion", "arbitrage", "market-making")
VENUES = ("binance", "coinbase", "kraken")


class LatencyWindow:
    """What the platform served in the last ``WINDOW_S`` seconds: latencies and errors (bounded).

    The latencies are also kept sorted as they come and go, and the errors counted, so a health request
    costs a lookup instead of sorting the whole window: with the window full (a monitor polling at once)
    sorting 20,000 entries on each of the four health reads of a gate cycle bounded the cycle.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._entries: collections.deque[tuple[float, float, bool]] = collections.deque()
        self._sorted: list[float] = []
        self._errors = 0

    def record(self, latency_ms: float, error: bool) -> None:
        if len(self._entries) >= self.max_entries:
            self._drop_oldest()
        self._entries.append((time.monotonic(), latency_ms, error))
        bisect.insort(self._sorted, latency_ms)
        self._errors += error

    def _drop_oldest(self) -> None:
        _, latency_ms, error = self._entries.popleft()
        del self._sorted[bisect.bisect_left(self._sorted, latency_ms)]
        self._errors -= error

    def snapshot(self) -> tuple[float, float, int]:
        """(p95 latency in ms, error rate 0..1, samples) over the window."""
        horizon = time.monotonic() - WINDOW_S
        while self._entries and self._entries[0][0] < horizon:
            self._drop_oldest()
        count = len(self._sorted)
        if not count:
            return 0.0, 0.0, 0
        p95 = self._sorted[min(count - 1, math.ceil(0.95 * count) - 1)]
        return p95, self._errors / count, count


@dataclass
class ServiceState:
    """One simulated service: its port, its faults and its metrics."""

    name: str
    port: int
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    faults: dict[str, Fault] = field(default_factory=dict)
    applied_at: dict[str, float] = field(default_factory=dict)  # fault kind -> Platform.clock() then
    started_at: float = field(default_factory=time.time)
    restarts: int = 0
    served: int = 0
    errors_injected: int = 0
    crashloop_since: float | None = None
    # The state-changing faults (down, crashloop, stale) now in effect: a cycling one enters and leaves.
    in_effect: set[str] = field(default_factory=set)
    site: web.BaseSite | None = None

    def __post_init__(self) -> None:
        self.requests = Counter(
            "spark_http_requests_total",
            "HTTP requests served.",
            ["service", "method", "path", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "spark_http_request_duration_seconds",
            "Time to serve an HTTP request.",
            ["service", "path"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    @property
    def is_listening(self) -> bool:
        return not self.in_effect & {"down", "crashloop"}

    def acting(self, kind: str, now: float) -> Fault | None:
        """The fault of ``kind`` if it acts at ``now``: applied, and in its on-phase if it has a cycle."""
        fault = self.faults.get(kind)
        if fault is None or not fault.is_on(now - self.applied_at.get(kind, now)):
            return None
        return fault

    def should_inject_error(self, now: float) -> bool:
        """Deterministic error fraction: the running share of 500s tracks ``errors:FRACTION`` exactly
        (counted over the answers served while the fault acts)."""
        fault = self.acting("errors", now)
        if fault is None or fault.value is None:
            return False
        self.served += 1
        if self.errors_injected < fault.value * self.served:
            self.errors_injected += 1
            return True
        return False


class MarketFeed:
    """A market-data feed that ticks every ``TICK_INTERVAL_S`` unless a ``stale`` fault froze it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_tick = time.time()
        self.frozen = False
        self.prices = {symbol: 100.0 * (index + 1) for index, symbol in enumerate(SYMBOLS)}
        self.ticks = Counter(
            "spark_marketdata_ticks_total",
            "Market-data ticks received.",
            ["symbol", "venue"],
            registry=registry,
        )
        self.price = Gauge(
            "spark_marketdata_last_price", "Last traded price.", ["symbol", "venue"], registry=registry
        )
        self.last_tick_ts = Gauge(
            "spark_marketdata_last_tick_timestamp_seconds", "Time of the last tick.", registry=registry
        )
        self.staleness_gauge = Gauge(
            "spark_marketdata_staleness_seconds", "Seconds since the last tick.", registry=registry
        )
        self.staleness_gauge.set_function(self.staleness)
        self.subscribers = Gauge("spark_marketdata_subscribers", "Connected subscribers.", registry=registry)
        self.subscribers.set(2)
        self.reconnects = Counter(
            "spark_marketdata_reconnects_total", "Venue reconnects.", ["venue"], registry=registry
        )
        for venue in VENUES:
            self.reconnects.labels(venue).inc(0)
        self._random = random.Random(7)
        self.seq = 0
        # Each WebSocket subscriber's queue of ticks (sim/ticks.py); a slow one loses ticks, never memory.
        self.listeners: set[asyncio.Queue[dict[str, object]]] = set()
        for symbol in SYMBOLS:  # every series exists from the start, so the exposition's size is steady
            for venue in VENUES:
                self.ticks.labels(symbol, venue).inc(0)
                self.price.labels(symbol, venue).set(self.prices[symbol])
        self.last_tick_ts.set(self.last_tick)

    def staleness(self) -> float:
        return max(0.0, time.time() - self.last_tick)

    def freeze(self, seconds: float) -> None:
        self.frozen = True
        self.last_tick = time.time() - seconds
        self.last_tick_ts.set(self.last_tick)

    def thaw(self) -> None:
        self.frozen = False
        self.last_tick = time.time()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL_S)
            if self.frozen:
                continue
            self.last_tick = time.time()
            for symbol in SYMBOLS:
                self.prices[symbol] *= 1 + self._random.gauss(0, 0.0005)
                venue = VENUES[self._random.randrange(len(VENUES))]
                self.ticks.labels(symbol, venue).inc()
                self.price.labels(symbol, venue).set(round(self.prices[symbol], 4))
            self.last_tick_ts.set(self.last_tick)
            self.publish()

    def publish(self) -> None:
        """Hand the tick just made to every WebSocket subscriber (dropped for one whose queue is full)."""
        self.seq += 1
        tick: dict[str, object] = {
            "type": "tick",
            "seq": self.seq,
            "ts": round(self.last_tick, 3),
            "prices": {symbol: round(price, 4) for symbol, price in self.prices.items()},
        }
        for queue in self.listeners:
            if not queue.full():
                queue.put_nowait(tick)


def executor_metrics(registry: CollectorRegistry, name: str) -> Callable[[], None]:
    """Trading metrics of an executor; returns a function that simulates one round of order flow."""
    orders = Counter(
        "spark_executor_orders_total", "Orders sent.", ["strategy", "side", "outcome"], registry=registry
    )
    latency = Histogram(
        "spark_executor_order_latency_seconds",
        "Order round trip to the venue.",
        ["venue"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        registry=registry,
    )
    positions = Gauge("spark_executor_open_positions", "Open positions.", ["strategy"], registry=registry)
    pnl = Gauge("spark_executor_pnl_usd", "Realised PnL today.", ["strategy"], registry=registry)
    fills = Counter("spark_executor_fills_total", "Fills received.", ["strategy"], registry=registry)
    for strategy in STRATEGIES:  # every series exists from the start: a steady exposition size
        for side in ("buy", "sell"):
            for outcome in ("filled", "rejected"):
                orders.labels(strategy, side, outcome).inc(0)
    rng = random.Random(name)

    def trade() -> None:
        for strategy in STRATEGIES:
            side = rng.choice(("buy", "sell"))
            filled = rng.random() > 0.05
            orders.labels(strategy, side, "filled" if filled else "rejected").inc()
            if filled:
                fills.labels(strategy).inc()
            positions.labels(strategy).set(rng.randrange(0, 12))
            pnl.labels(strategy).inc(round(rng.gauss(5, 20), 2))
        for venue in VENUES:
            latency.labels(venue).observe(abs(rng.gauss(0.02, 0.01)))

    trade()
    return trade


class RoleLabelled(Collector):
    """Every series of ``registry`` with a constant ``role`` label added, as a scrape of it shows them."""

    def __init__(self, registry: CollectorRegistry, role: str) -> None:
        self.registry = registry
        self.role = role

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            family.samples = [
                sample._replace(labels={**sample.labels, "role": self.role}) for sample in family.samples
            ]
            yield family
