"""The server's model seam on Ray: runners that call model deployments through Serve handles.

The HTTP routes ask ``state.models`` for a runner and call it in a worker
thread; here that runner forwards the call to the model's deployment and
turns Ray's failures into errors a client can act on (retryable 503/504).
"""

from __future__ import annotations

import importlib
import queue
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from .. import notices
from ..errors import ModelNotAvailable
from ..server.errors import ClientError
from ..server.models import Models
from .plan import ModelPlan


def retryable(status: int, message: str, code: str, retry_after: int) -> ClientError:
    return ClientError(status, message, hint="Retry the request; the cluster is replacing the replica "
                       "or is busy.", code=code, headers={"Retry-After": str(retry_after)})


def rebuilt(data: dict[str, Any]) -> Exception:
    """The error a replica sent back as data, as its own class (with its hint)."""
    if "client" in data:
        return ClientError(**data["client"])
    try:
        kind = getattr(importlib.import_module(data["module"]), data["name"])
        error = kind(data["message"], data["hint"]) if data["hint"] is not None else kind(data["message"])
        if hasattr(error, "param"):
            error.param = data.get("param")
    except Exception:  # noqa: BLE001 - an unknown class: still the replica's words
        from ..errors import TaskFailed

        error = TaskFailed(data["message"], data["hint"])
    return error


class LocalTokens:
    """A tokenizer.json read at the ingress, for the token counts in answers (no model, no torch)."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def __call__(self, texts: list[str], add_special_tokens: bool = True) -> dict:
        """Each text's token ids, as a transformers tokenizer gives them (what ``task.count_with`` reads)."""
        return {"input_ids": [self.tokenizer.encode(t, add_special_tokens=add_special_tokens).ids for t in texts]}


class RemoteRunner:
    """The runner protocol the routes call (call, stream, spec, count_tokens, info), answered by a
    deployment; the ingress bounds each deployment's calls in flight (``--queue-size``) as one process does."""

    def __init__(self, models: RayModels, plan: ModelPlan, handle):
        from ..pipelines import get_task

        self.models, self.plan, self.handle = models, plan, handle
        self.task = get_task(plan.task)
        self.spec = self.task.spec
        self.model_id = plan.model or self.spec.default_model
        self.streams = self.task.streams()
        self.admission = models.admission(plan)

    def count_tokens(self, value: Any, special: bool = False) -> int:
        """Tokens of a text (or the sum over texts), counted here from the model's tokenizer.json (0 when the
        ingress has none)."""
        from ..task import count_with

        return count_with(self.models.tokens(self.plan), value, special)

    def info(self, name: str) -> Any:
        return self.__call__(None, _info=name)

    def __call__(self, inputs: Any, **params: Any) -> Any:
        with self.admission.held():
            response = self.handle.call.remote(inputs, params)
            answer = self.models.wait(lambda: response.result(timeout_s=self.models.timeout), self.plan)
            return self._unpack(answer)["result"]

    def stream(self, inputs: Any, **params: Any):
        """The pieces, as the replica makes them.

        Returns once the replica has taken the call: a full queue (here or on the replica), bad input or
        a lost replica raise now, before the route sends its status line, as one process does."""
        from ..runner import Stream

        release = self.admission.enter()
        feed = None
        try:
            feed = Feed(self.handle.options(stream=True).stream.remote(inputs, params), self.models, self.plan)
            verdict = feed.next()
            if verdict is None:
                raise retryable(503, f"The replica serving {self.model_id} ended the stream before starting it.",
                                "replica_unavailable", self.models.config.retry_after)
            self._unpack(verdict)
            self.models.record(self.plan, verdict)
            for note in verdict.get("notes", ()):
                notices.notice(note)  # told while the route still collects the call's notices
        except BaseException:
            if feed is not None:
                feed.close()
            release(False)
            raise

        def done(ok: bool) -> None:
            feed.close()  # a client that left: the replica stops generating
            release(ok)

        return Stream(self._pieces(feed), done)

    def _pieces(self, feed: Feed):
        while True:
            item = feed.next()
            if item is None:  # the stream ended without its last item: the replica went away
                raise retryable(503, f"The replica serving {self.model_id} stopped in the middle of the answer.",
                                "replica_unavailable", self.models.config.retry_after)
            self._unpack(item)
            if "end" in item:
                for note in item.get("notes", ()):
                    notices.notice(note)  # to the stream's listener: the last event's warnings
                return item.get("result")
            yield item["piece"]

    def _unpack(self, answer: dict) -> dict:
        if "error" in answer:
            raise rebuilt(answer["error"])
        if "failed" in answer:
            from ..errors import TaskFailed

            raise TaskFailed(f"{self.model_id} failed on its replica: {answer['failed']}")
        if "result" in answer and "end" not in answer:
            self.models.record(self.plan, answer)
            for note in answer.get("notes", ()):
                notices.notice(note)  # to the request's collector on the ingress
        return answer


class Feed:
    """The items of a deployment's streamed answer, each waited for at most ``--request-timeout``.

    A thread reads Ray's generator (its own ``next`` cannot be given a time limit); ``close`` cancels
    the call on the replica, which ends that thread too.
    """

    def __init__(self, generator, models: RayModels, plan: ModelPlan):
        self.generator, self.models, self.plan = generator, models, plan
        self.items: queue.Queue = queue.Queue()
        self.closed = False
        threading.Thread(target=self._pump, name="modeldeck-ray-stream", daemon=True).start()

    def _pump(self) -> None:
        try:
            for item in self.generator:
                self.items.put(("item", item))
            self.items.put(("end", None))
        except BaseException as error:  # noqa: BLE001 - handed to the reader
            self.items.put(("error", error))

    def _get(self):
        try:
            kind, value = self.items.get(timeout=self.models.timeout)
        except queue.Empty:
            self.close()
            raise TimeoutError from None
        if kind == "error":
            raise value
        return value

    def next(self) -> dict | None:
        """The next item; None when the stream ended. Ray's failures as retryable client errors."""
        return self.models.wait(self._get, self.plan)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.generator.cancel()
            except Exception:  # noqa: BLE001 - already finished or gone: nothing left to stop
                pass


class DeployedModels(Models):
    """The models a Ray application deploys, found by the names requests give (hub ids, OpenAI names,
    nothing for a task's default); any other model is a 404 saying how to deploy it."""

    def __init__(self, config, plans: list[ModelPlan]):
        super().__init__(config)
        self.plans = plans

    def _plans_for(self, model: str | None, task: str | None = None) -> list[ModelPlan]:
        from ..pipelines import get_task

        found = []
        for plan in self.plans:
            if task is not None and plan.task != task:
                continue
            spec = get_task(plan.task).spec
            names = {plan.model} if plan.model else {None, spec.default_model, spec.offline_default}
            if model in names or (model is None and plan.model in (spec.default_model, spec.offline_default)):
                found.append(plan)
        return found

    def tasks_for(self, model: str) -> list[str]:
        self.check_id(model)
        tasks = [p.task for p in self._plans_for(model) if self.config.serves(p.task)]
        if not tasks:
            raise ModelNotAvailable(
                f"Model {model} is not deployed on this cluster.",
                f"Deploy it: add --preload {model.split('@')[0]} to 'modeldeck serve --ray' "
                "(or an entry to args.models in the Serve config).",
            )
        return tasks

    def plan_for(self, task: str, model: str | None) -> ModelPlan:
        plans = self._plans_for(model, task)
        if not plans:
            shown = model or f"the default {task} model"
            raise ModelNotAvailable(f"{shown} is not deployed for {task} on this cluster.",
                                    f"Deploy it: add --preload {task}={model or 'MODEL'} to 'modeldeck serve --ray'.")
        return plans[0]

    def preload(self) -> None:
        """Nothing to do: Serve starts every model's replicas before the application is running."""

    @staticmethod
    def runner_model_id(plan: ModelPlan) -> str:
        from ..pipelines import get_task

        return get_task(plan.task).spec.default_model

    @staticmethod
    def deployment_states() -> dict:
        """This application's deployments as Serve's controller sees them (empty when it cannot tell)."""
        from ray import serve

        try:
            app_name = serve.get_replica_context().app_name
            status = serve.status().applications.get(app_name)
            return status.deployments if status else {}
        except Exception:  # noqa: BLE001 - readiness still answers, without the cluster's view
            return {}

    def status_row(self, plan: ModelPlan, state) -> dict:
        return {
            "task": plan.task, "model": plan.model or self.runner_model_id(plan), "deployment": plan.name,
            "status": str(getattr(state, "status", "UNKNOWN")).rsplit(".", 1)[-1],
            "replicas": {str(k).rsplit(".", 1)[-1]: v for k, v in (getattr(state, "replica_states", {}) or {}).items()},
        }


class RayModels(DeployedModels):
    """The served models are the application's deployments; runners are handles to them."""

    def __init__(self, config, plans: list[ModelPlan], handles: list, timeout: float):
        super().__init__(config, plans)
        self.handles = {p.name: h for p, h in zip(plans, handles)}
        self.timeout = timeout
        self.served: Counter = Counter()  # (deployment, node, pid) -> answers
        self._served_lock = threading.Lock()
        self._tokens: dict[str, Any] = {}
        self._admissions: dict[str, Any] = {}

    def runner(self, task: str, model: str | None) -> RemoteRunner:
        plan = self.plan_for(task, model)
        return RemoteRunner(self, plan, self.handles[plan.name])

    # -- calls ---------------------------------------------------------------------------------

    def wait(self, get, plan: ModelPlan):
        """``get()``, with Ray's failures as retryable client errors (a lost replica is never a hang)."""
        import ray.exceptions as rex
        from ray.serve import exceptions as sex

        retry = self.config.retry_after
        try:
            return get()
        except rex.RayTaskError as error:
            cause = getattr(error, "cause", None)
            raise (cause if isinstance(cause, Exception) else error) from None
        except (TimeoutError, rex.GetTimeoutError):
            raise retryable(504, f"{plan.model or plan.task} did not answer within {self.timeout:g} s.",
                            "replica_timeout", retry) from None
        except (rex.RayActorError, sex.RayServeException, rex.RayError) as error:
            raise retryable(503, f"The replica serving {plan.model or plan.task} was lost while answering "
                            f"({type(error).__name__}).", "replica_unavailable", retry) from None

    def admission(self, plan: ModelPlan):
        """The bound on the deployment's calls in flight, one per deployment."""
        from ..runner import Admission

        with self._served_lock:
            if plan.name not in self._admissions:
                self._admissions[plan.name] = Admission(self.config.queue_size, lambda: plan.model or plan.task)
            return self._admissions[plan.name]

    def record(self, plan: ModelPlan, answer: dict) -> None:
        with self._served_lock:
            self.served[(plan.name, answer.get("node", "?"), answer.get("pid", 0))] += 1

    def tokens(self, plan: ModelPlan):
        """The model's tokenizer, read here when its folder is on this node (None otherwise: counts 0)."""
        if plan.name not in self._tokens:
            tokens = None
            try:
                folder = self.folder(plan.model or self.runner_model_id(plan))
                if folder is not None and (folder / "tokenizer.json").is_file():
                    tokens = LocalTokens(folder / "tokenizer.json")
            except Exception:  # noqa: BLE001 - a count is informative only
                tokens = None
            self._tokens[plan.name] = tokens
        return self._tokens[plan.name]

    # -- readiness -----------------------------------------------------------------------------

    def held(self) -> list[dict]:
        """``modeldeck ps`` on Ray: the deployments (each replica holds its own model)."""
        return self.loaded()

    def stop(self, model: str, task: str | None = None) -> list[dict]:
        raise ClientError(501, "Unloading is not offered on Ray: each deployment keeps its model in its replicas.",
                          hint="Scale the deployment down instead (serve deploy with fewer replicas).",
                          code="not_supported")

    def loaded(self) -> list[dict]:
        """Each deployment: its model, status, replicas by state, answers by node and process, and one
        replica's own figures (calls in flight, batch sizes, threads: exact when it has one replica)."""
        deployments = self.deployment_states()
        with self._served_lock:
            served = dict(self.served)
        rows = []
        for plan in self.plans:
            by_node: Counter = Counter()
            by_process = {}
            for (name, node, pid), count in served.items():
                if name == plan.name:
                    by_node[node] += count
                    by_process[f"{node}:{pid}"] = count
            row = self.status_row(plan, deployments.get(plan.name))
            admission = self._admissions.get(plan.name)
            row.update({"answers_by_node": dict(by_node), "answers_by_process": by_process,
                        "ingress_in_flight": admission.in_flight if admission else 0})
            try:  # bounded: a replica being replaced must not hold /ready up
                row["replica"] = self.handles[plan.name].stats.remote().result(timeout_s=10)
            except Exception:  # noqa: BLE001 - readiness answers without it
                pass
            rows.append(row)
        return rows
