"""Prometheus metrics: requests, latency, queue depth, batch sizes, loaded models and their memory."""

from __future__ import annotations

import time

from ..errors import require


class Metrics:
    """A registry of this app's own (never the process-wide default registry)."""

    def __init__(self, models):
        prometheus = require("prometheus_client", "prometheus-client", extra="server")
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.prometheus = prometheus
        self.registry = CollectorRegistry()
        self.requests = Counter("modeldeck_requests", "HTTP requests answered", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("modeldeck_request_seconds", "Seconds to answer (to the first byte of streams)",
                                 ["route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.registry.register(_PoolCollector(models))

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return self.prometheus.generate_latest(self.registry), self.prometheus.CONTENT_TYPE_LATEST


class _PoolCollector:
    """Read at each scrape: the pool's loaded runners, their engines, and the server's queues."""

    def __init__(self, models):
        self.models = models

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        labels = ["task", "model", "device"]
        loaded = GaugeMetricFamily("modeldeck_model_loaded", "Models loaded (1 each)", labels=labels)
        memory = GaugeMetricFamily("modeldeck_model_memory_bytes", "Predicted memory of each loaded model",
                                   labels=labels)
        engine_queue = GaugeMetricFamily("modeldeck_engine_queue_depth", "Items waiting for the model's worker",
                                         labels=labels)
        passes = CounterMetricFamily("modeldeck_forward_passes", "Forward passes run", labels=labels)
        batches = CounterMetricFamily("modeldeck_batches", "Forward passes by batch size", labels=[*labels, "size"])
        waiting = GaugeMetricFamily("modeldeck_queue_depth", "Requests admitted and not yet answered, per model",
                                    labels=["task", "model"])
        for row in self.models.loaded():
            key = [row["task"], row["model"], row.get("device", "")]
            loaded.add_metric(key, 1)
            memory.add_metric(key, row.get("predicted_bytes", 0))
            engine_queue.add_metric(key, row.get("queue_depth", 0))
            passes.add_metric(key, row.get("forward_passes", 0))
            for size, count in row.get("batch_sizes", {}).items():
                batches.add_metric([*key, str(size)], count)
            waiting.add_metric([row["task"], row["model"]], row.get("in_flight", 0))
        yield from (loaded, memory, engine_queue, passes, batches, waiting)


class Timing:
    """ASGI middleware: each answer counted and timed under its route's template (not the raw path)."""

    def __init__(self, app, metrics: Metrics | None):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.metrics is None:
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                route = getattr(scope.get("route"), "path", None) or "(unmatched)"
                self.metrics.observe(route, status[0], time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, sending)
