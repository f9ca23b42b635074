"""One model's deployment answering HTTP itself: the whole of ``modeldeck serve`` inside each replica.

With one model, a separate ingress would only pass requests on: Serve's proxy
-> the ingress's process -> a handle call -> the model's process, results
pickled on the way. Here the proxy hands a request straight to a model
replica, which parses it, runs its own pooled runner (concurrent requests
batched by the engine as in one process), and writes the answer once.
Replicas are interchangeable: Serve's proxy spreads requests over them and
autoscaling adds and removes them.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ray import serve

from .ingress import server_config
from .plan import ClusterPlan, ModelPlan
from .remote import DeployedModels
from .replica import load_runner, threads, where

REPLICA_HEADER = "x-modeldeck-replica"  # which replica answered: NODE_ID:PID
LOCAL_FIRST = "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING"
log = logging.getLogger("modeldeck.cluster")


def warn_if_proxy_keeps_to_its_node(model: ModelPlan) -> None:
    """Serve's proxy sends a request to the replicas on its own node while they have room (unless the
    node's 'ray start' had RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING=0): with one proxy and replicas on
    several nodes, the others would idle. Said once per replica, in Serve's log."""
    several = (model.max_replicas or model.replicas or 1) > 1
    if several and os.environ.get(LOCAL_FIRST, "1").strip() != "0":
        log.warning("%s: Serve's HTTP proxy prefers replicas on its own node; for requests to spread over "
                    "every node's replicas, start the Ray nodes with %s=0 (or run a proxy on every node, "
                    "--proxy-location EveryNode, behind a load balancer).", model.name, LOCAL_FIRST)


class DirectModels(DeployedModels):
    """The one deployed model, loaded in this replica; any other model is a 404 naming how to deploy it."""

    def __init__(self, config, plans: list[ModelPlan], runner, place: dict[str, Any]):
        super().__init__(config, plans)
        self.local_runner, self.place = runner, place

    def runner(self, task: str, model: str | None):
        self.plan_for(task, model)  # refuses models and tasks not deployed
        return self.local_runner

    def loaded(self) -> list[dict]:
        """The deployment's status and replicas (Serve's view), and this replica's own figures."""
        plan = self.plans[0]
        row = self.status_row(plan, self.deployment_states().get(plan.name))
        row["replica"] = {**self.local_runner.stats(), **self.place, "threads": threads()}
        return [row]


class ReplicaHeader:
    """ASGI middleware: every answer says which replica gave it (``X-Modeldeck-Replica: NODE:PID``)."""

    def __init__(self, app, value: str):
        self.app, self.value = app, value.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (REPLICA_HEADER.encode(), self.value)]}
            await send(message)

        await self.app(scope, receive, sending)


@serve.ingress()
class ModelServer:
    """The HTTP API (both dialects, auth, limits, errors) and the model, in one replica."""

    def __init__(self, args: dict):
        self.plan = ClusterPlan.from_args(args)
        os.environ.update(self.plan.env)  # limits are process settings, fixed at start as in `modeldeck serve`
        self.config = server_config(self.plan)
        self.place = where()
        model = self.plan.models[0]
        warn_if_proxy_keeps_to_its_node(model)
        # loaded before Serve counts the replica as running: no request waits for a load
        runner = load_runner(model.task, model.model, self.place, max_queue=self.config.queue_size)
        self.models = DirectModels(self.config, self.plan.models, runner, self.place)

    def __serve_build_asgi_app__(self):
        from ..server import create_app

        app = create_app(self.config, models=self.models)
        app.add_middleware(ReplicaHeader, value=f"{self.place['node']}:{self.place['pid']}")
        return app
