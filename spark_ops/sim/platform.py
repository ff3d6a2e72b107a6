"""The simulated Spark platform: four real aiohttp servers on loopback that behave like the platform.

- every service counts and times what it serves in its own prometheus-client registry (``/metrics``);
- ``/api/healthz`` asks the three back ends for their health, like the real aggregator, and reports
  the p95 latency and error rate of what the platform served in the last minute, and the staleness of
  a market-data feed that ticks;
- ``/api/tools/pm2`` serves the ``pm2 jlist`` shape;
- faults apply at start or at run time through ``/__sim/faults`` (loopback callers only); a fault with a
  cycle (``@ON/PERIOD``) acts only in its on-phase, timed by ``Platform.clock`` (a seam for tests): the
  per-answer kinds (slow, errors, status) ask at each request, the state-changing ones (down, crashloop,
  stale) are switched in and out every ``CYCLE_CHECK_S``;
- a ``role`` (e.g. ``canary``) is a constant label on every series each service exposes, so one
  Prometheus scraping two simulators can tell baseline from canary.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)

from spark_ops.clock import now as clock_now
from spark_ops.sim import ticks
from spark_ops.sim.faults import SERVICES, Fault, parse_fault
from spark_ops.sim.services import (
    WINDOW_S,
    LatencyWindow,
    MarketFeed,
    RoleLabelled,
    ServiceState,
    executor_metrics,
)

DEFAULT_PORTS = {"web": 3003, "executor-1": 4001, "executor-2": 4002, "marketdata": 5001}
PM2_NAMES = {
    "web": "spark-web-next",
    "executor-1": "spark-executor-1",
    "executor-2": "spark-executor-2",
    "marketdata": "spark-marketdata",
}
ADMIN_PATH = "/__sim/faults"
PAGES = ("/", "/dashboard", "/portfolio", "/strategies", "/settings")
UPSTREAM_TIMEOUT_S = 2.0
CYCLE_CHECK_S = 0.05  # how often cycling down/crashloop/stale faults are switched on or off
STATEFUL_KINDS = ("down", "crashloop", "stale")  # they change the service's state, not each answer


class Platform:
    """The four services, their shared health window and the feed; lives on one event loop.

    ``clock`` (seconds, like ``time.time``) times the cycles of intermittent faults; tests replace it.
    """

    def __init__(self, ports: dict[str, int], faults: list[Fault], role: str | None = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call] # the platform's prom-client exports no *_created series
        self.clock: Callable[[], float] = time.time
        self.role = role
        self.services = {name: ServiceState(name, ports[name]) for name in SERVICES}
        self._exposed = {
            name: self._exposed_registry(state.registry) for name, state in self.services.items()
        }
        self.window = LatencyWindow()
        self.feed = MarketFeed(self.services["marketdata"].registry)
        self.trades = {
            name: executor_metrics(self.services[name].registry, name)
            for name in ("executor-1", "executor-2")
        }
        self._runners: dict[str, web.AppRunner] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._client: ClientSession | None = None
        self._initial_faults = faults
        self._switching = asyncio.Lock()  # one switch at a time: a port is bound once
        self._feed_sockets: set[web.WebSocketResponse] = set()  # closed at stop: nobody waits on them

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.services[name].port}"

    def _exposed_registry(self, registry: CollectorRegistry) -> CollectorRegistry:
        """What ``/metrics`` shows: the service's own registry, or with a role, the same labelled by it."""
        if self.role is None:
            return registry
        labelled = CollectorRegistry(auto_describe=False)
        labelled.register(RoleLabelled(registry, self.role))
        return labelled

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._client = ClientSession(timeout=ClientTimeout(total=UPSTREAM_TIMEOUT_S))
        for name in SERVICES:
            runner = web.AppRunner(
                self._app(name), access_log=None, handle_signals=False, shutdown_timeout=1.0
            )
            await runner.setup()
            self._runners[name] = runner
        for name in SERVICES:
            await self._listen(name)
        self._tasks.append(asyncio.create_task(self.feed.run()))
        self._tasks.append(asyncio.create_task(self._trade_forever()))
        self._tasks.append(asyncio.create_task(self._cycle_forever()))
        for fault in self._initial_faults:
            await self.apply(fault)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for runner in self._runners.values():
            await runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _listen(self, name: str) -> None:
        state = self.services[name]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", state.port))
        except OSError as exc:
            sock.close()
            raise OSError(f"{name}: cannot listen on 127.0.0.1:{state.port}: {exc.strerror}") from None
        state.port = sock.getsockname()[1]
        site = web.SockSite(self._runners[name], sock)
        await site.start()
        state.site = site

    async def _unlisten(self, name: str, answering: object = None) -> None:
        """Stop listening and drop live connections, but ``answering``: it carries the admin reply."""
        state = self.services[name]
        if state.site is not None:
            await state.site.stop()
            state.site = None
            # A down service also drops the connections clients keep alive, as a dead process would.
            server = self._runners[name].server
            for connection in server.connections if server is not None else []:
                if connection is not answering:
                    connection.force_close()

    async def _trade_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for name, trade in self.trades.items():
                if self.services[name].is_listening:
                    trade()

    # --- faults ----------------------------------------------------------------------------------

    async def apply(self, fault: Fault, answering: object = None) -> None:
        async with self._switching:
            state = self.services[fault.service]
            state.faults[fault.kind] = fault
            state.applied_at[fault.kind] = self.clock()
            state.in_effect.discard(fault.kind)  # applied again: it enters afresh (a new stale age)
            await self._switch(fault.service, answering)

    async def clear(self, service: str | None = None) -> None:
        async with self._switching:
            for name in [service] if service else list(SERVICES):
                state = self.services[name]
                state.faults.clear()
                state.applied_at.clear()
                state.errors_injected = state.served = 0
                await self._switch(name)

    async def _cycle_forever(self) -> None:
        while True:
            await asyncio.sleep(CYCLE_CHECK_S)
            if not self._cycling():
                continue  # nothing to switch: an idle simulator stays idle
            async with self._switching:
                for name in SERVICES:
                    await self._switch(name)

    def _cycling(self) -> bool:
        """Whether a state-changing fault with a cycle is applied anywhere."""
        return any(
            fault.period_s is not None
            for state in self.services.values()
            for kind, fault in state.faults.items()
            if kind in STATEFUL_KINDS
        )

    async def _switch(self, name: str, answering: object = None) -> None:
        """Put the state-changing faults of ``name`` in or out of effect as they act now, and listen or
        not accordingly (``answering``, the admin reply's connection, is kept open)."""
        state, now = self.services[name], self.clock()
        for kind in STATEFUL_KINDS:
            acting = state.acting(kind, now) is not None
            if acting and kind not in state.in_effect:
                state.in_effect.add(kind)
                if kind == "stale":
                    self.feed.freeze(state.faults[kind].value or 0.0)
                elif kind == "crashloop":
                    state.crashloop_since = time.time()
            elif not acting and kind in state.in_effect:
                state.in_effect.discard(kind)
                if kind == "stale":
                    self.feed.thaw()
                elif kind == "crashloop":
                    state.restarts = self._restart_count(state)
                    state.crashloop_since = None
        if state.site is not None and not state.is_listening:
            await self._unlisten(name, answering)
        elif state.site is None and state.is_listening:
            state.started_at = time.time()
            await self._listen(name)

    def _restart_count(self, state: ServiceState) -> int:
        # PM2 keeps restarting a crash-looping process about twice a second.
        if state.crashloop_since is None:
            return state.restarts
        return state.restarts + 1 + int((time.time() - state.crashloop_since) / 0.5)

    # --- the apps --------------------------------------------------------------------------------

    def _app(self, name: str) -> web.Application:
        state = self.services[name]
        app = web.Application(middlewares=[self._middleware(state)])
        app.on_startup.append(lambda app: self._declare_series(state, app))
        app.router.add_route("*", ADMIN_PATH, self._admin)
        app.router.add_get("/metrics" if name != "web" else "/api/tools/metrics", self._metrics(state))
        if name == "web":
            for page in PAGES:
                app.router.add_get(page, self._page)
            app.router.add_get("/api/healthz", self._platform_health)
            app.router.add_get("/api/tools/status", self._status)
            app.router.add_get("/api/tools/canary", self._canary)
            app.router.add_get("/api/tools/risk-report", self._risk_report)
            app.router.add_get("/api/tools/pm2", self._pm2)
            app.router.add_get("/metrics", self._metrics(state))
        else:
            app.router.add_get("/healthz", self._service_health(state))
        if name == "marketdata":
            app.router.add_get(
                ticks.PATH, ticks.tick_feed(state, self.feed, lambda: self.clock(), self._feed_sockets)
            )
            app.on_shutdown.append(self._close_feed_sockets)
        return app

    async def _close_feed_sockets(self, app: web.Application) -> None:
        for feed_socket in list(self._feed_sockets):
            await feed_socket.close(code=1001, message=b"simulator stopping")

    async def _declare_series(self, state: ServiceState, app: web.Application) -> None:
        """Every route's series exist from the start, so a scrape's size does not jump as paths are hit."""
        for resource in app.router.resources():
            path = resource.canonical
            if path not in (ADMIN_PATH, ticks.PATH):
                state.duration.labels(state.name, path)
                state.requests.labels(state.name, "GET", path, "200")

    def _middleware(self, state: ServiceState) -> Any:
        @web.middleware
        async def middleware(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            if request.path == ADMIN_PATH:
                return await handler(request)
            started, now = time.perf_counter(), self.clock()
            slow = state.acting("slow", now)
            if slow is not None and slow.value:
                await asyncio.sleep(slow.value / 1000)
            forced = state.acting("status", now)
            response: web.StreamResponse
            if forced is not None and forced.value is not None:
                response = web.Response(status=int(forced.value), text=f"simulated status {forced.value:g}\n")
            elif state.should_inject_error(now):
                response = web.Response(status=500, text="simulated error\n")
            else:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    response = exc
            if request.path == ticks.PATH:  # a subscription, not a request: its lifetime is no latency
                return response
            elapsed = time.perf_counter() - started
            path = (
                request.match_info.route.resource.canonical if request.match_info.route.resource else "other"
            )
            state.requests.labels(state.name, request.method, path, str(response.status)).inc()
            state.duration.labels(state.name, path).observe(elapsed)
            if request.path != "/api/healthz":  # its own latency is the back ends' it already counts
                self.window.record(elapsed * 1000, response.status >= 500)
            return response

        return middleware

    async def _admin(self, request: web.Request) -> web.Response:
        remote = request.remote or ""
        try:
            loopback = ipaddress.ip_address(remote).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return web.json_response(
                {"error": "the fault endpoint answers loopback callers only"}, status=403
            )
        if request.method == "POST":
            text = (await request.text()).strip()
            try:
                fault = parse_fault(text)
            except Exception as exc:  # ConfigError, with a message fit for the caller
                return web.json_response({"error": str(exc)}, status=400)
            await self.apply(fault, answering=request.protocol)
        elif request.method == "DELETE":
            service = request.query.get("service")
            if service is not None and service not in SERVICES:
                return web.json_response({"error": f"unknown service {service!r}"}, status=400)
            await self.clear(service)
        elif request.method != "GET":
            return web.json_response({"error": "use GET, POST or DELETE"}, status=405)
        response = web.json_response(self.fault_listing())
        response.force_close()  # this service may have just gone down: close after the answer
        return response

    def fault_listing(self) -> dict[str, list[str]]:
        return {name: [str(f) for f in state.faults.values()] for name, state in self.services.items()}

    def _metrics(self, state: ServiceState) -> Callable[[web.Request], Awaitable[web.Response]]:
        exposed = self._exposed[state.name]

        async def handler(request: web.Request) -> web.Response:
            body = generate_latest(exposed)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        return handler

    async def _page(self, request: web.Request) -> web.Response:
        title = request.path.strip("/").title() or "Home"
        html = (
            f"<!doctype html><html><head><title>Spark · {title}</title></head><body><h1>{title}</h1></body>"
        )
        return web.Response(text=html, content_type="text/html")

    def _service_health(self, state: ServiceState) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response({"status": "UP", "service": state.name, "uptime_s": self._uptime(state)})

        return handler

    def _uptime(self, state: ServiceState) -> float:
        return round(time.time() - state.started_at, 3)

    async def _upstream(self, name: str) -> bool:
        """GET a back end's /healthz as the real aggregator does; refused or 5xx counts as an error."""
        assert self._client is not None
        started = time.perf_counter()
        try:
            async with self._client.get(self.url(name) + "/healthz") as response:
                await response.read()
                return response.status < 500
        except Exception:  # refused, reset, timed out: all mean the back end is not healthy
            # The back end's own middleware never saw this request: record the failure here.
            self.window.record((time.perf_counter() - started) * 1000, True)
            return False

    async def health_document(self) -> dict[str, Any]:
        backends = [name for name in SERVICES if name != "web"]
        answers = await asyncio.gather(*(self._upstream(name) for name in backends))
        p95, error_rate, samples = self.window.snapshot()
        healthy = sum(answers)
        status = "UP" if healthy == len(backends) else ("DOWN" if healthy == 0 else "DEGRADED")
        return {
            "status": status,
            "slo": {
                "latencyP95": round(p95, 3),
                "errorRate": round(error_rate, 4),
                "staleness": round(self.feed.staleness(), 3),
            },
            "services": {name: ("UP" if ok else "DOWN") for name, ok in zip(backends, answers, strict=True)},
            "window": {"seconds": WINDOW_S, "samples": samples},
            "timestamp": clock_now().strftime("%Y-%m-%dT%H:%M:%SZ"),  # the run's clock, as tests set it
        }

    async def _platform_health(self, request: web.Request) -> web.Response:
        return web.json_response(await self.health_document())

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                name: {
                    "url": self.url(name),
                    "listening": state.is_listening,
                    "faults": [str(f) for f in state.faults.values()],
                }
                for name, state in self.services.items()
            }
        )

    async def _canary(self, request: web.Request) -> web.Response:
        p95, error_rate, samples = self.window.snapshot()
        return web.json_response(
            {"window_s": WINDOW_S, "samples": samples, "latencyP95": p95, "errorRate": error_rate}
        )

    async def _risk_report(self, request: web.Request) -> web.Response:
        health = await self.health_document()
        faults = {name: listed for name, listed in self.fault_listing().items() if listed}
        return web.json_response({"status": health["status"], "slo": health["slo"], "faults": faults})

    async def _pm2(self, request: web.Request) -> web.Response:
        return web.json_response(self.pm2_jlist())

    def pm2_jlist(self) -> list[dict[str, Any]]:
        """The ``pm2 jlist`` shape: name, pm2_env.status/restart_time/pm_uptime, monit.memory/cpu."""
        processes = []
        for pm_id, (name, state) in enumerate(self.services.items()):
            if "crashloop" in state.in_effect:
                status, memory = "errored", 0
            elif "down" in state.in_effect:
                status, memory = "stopped", 0
            else:
                status, memory = "online", 60_000_000 + 7_000_000 * pm_id
            processes.append(
                {
                    "pid": os.getpid() if status == "online" else 0,
                    "name": PM2_NAMES[name],
                    "pm_id": pm_id,
                    "monit": {"memory": memory, "cpu": 0.5 if status == "online" else 0},
                    "pm2_env": {
                        "status": status,
                        "restart_time": self._restart_count(state),
                        "unstable_restarts": 0,
                        "pm_uptime": int(state.started_at * 1000),
                        "exec_mode": "fork_mode",
                        "instances": 1,
                    },
                }
            )
        return processes
