"""The server's model seam on Ray: runners that call model deployments through Serve handles.

The HTTP routes ask ``state.models`` for a runner and call it in a worker
thread; here that runner forwards the call to the model's deployment and
turns Ray's failures into errors a client can act on (retryable 503/504).
"""

from __future__ import annotations

import importlib
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

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
        return {"input_ids": self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids}


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
        tokens = self.models.tokens(self.plan)
        texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        texts = [t for t in texts if isinstance(t, str) and t]
        if tokens is None:
            return 0
        return sum(len(tokens(t, add_special_tokens=special)["input_ids"]) for t in texts)

    def info(self, name: str) -> Any:
        return self.__call__(None, _info=name)

    def __call__(self, inputs: Any, **params: Any) -> Any:
        with self.admission.held():
            response = self.handle.call.remote(inputs, params)
            answer = self.models.wait(lambda: response.result(timeout_s=self.models.timeout), self.plan)
            return self._unpack(answer)["result"]

    def stream(self, inputs: Any, **params: Any):
        """The pieces, as the replica makes them; a full queue is refused here, before any piece."""
        from ..runner import Stream

        return Stream(self._stream(inputs, params), self.admission.enter())

    def _stream(self, inputs: Any, params: dict):
        generator = self.handle.options(stream=True).stream.remote(inputs, params)
        items = iter(generator)
        while True:
            item = self.models.wait(lambda: next(items, None), self.plan)
            if item is None:
                return
            if "failed" in item:
                raise RuntimeError(item["failed"])
            if "start" in item:
                self.models.record(self.plan, item)
                continue
            self._unpack(item)
            yield item["piece"]

    def _unpack(self, answer: dict) -> dict:
        if "error" in answer:
            raise rebuilt(answer["error"])
        if "result" in answer:
            self.models.record(self.plan, answer)
            for note in answer.get("notes", ()):
                notices.notice(note)  # to the request's collector on the ingress
        return answer


class RayModels(Models):
    """The served models are the application's deployments; runners are handles to them."""

    def __init__(self, config, plans: list[ModelPlan], handles: list, timeout: float):
        super().__init__(config)
        self.plans = plans
        self.handles = {p.name: h for p, h in zip(plans, handles)}
        self.timeout = timeout
        self.served: Counter = Counter()  # (deployment, node, pid) -> answers
        self._served_lock = threading.Lock()
        self._tokens: dict[str, Any] = {}
        self._admissions: dict[str, Any] = {}

    # -- which models --------------------------------------------------------------------------

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

    def runner(self, task: str, model: str | None) -> RemoteRunner:
        plans = self._plans_for(model, task)
        if not plans:
            shown = model or f"the default {task} model"
            raise ModelNotAvailable(f"{shown} is not deployed for {task} on this cluster.",
                                    f"Deploy it: add --preload {task}={model or 'MODEL'} to 'modeldeck serve --ray'.")
        return RemoteRunner(self, plans[0], self.handles[plans[0].name])

    def preload(self) -> None:
        """Nothing to do: Serve starts every model's replicas before the application is running."""

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

    @staticmethod
    def runner_model_id(plan: ModelPlan) -> str:
        from ..pipelines import get_task

        return get_task(plan.task).spec.default_model

    # -- readiness -----------------------------------------------------------------------------

    def held(self) -> list[dict]:
        """``modeldeck ps`` on Ray: the deployments (each replica holds its own model)."""
        return self.loaded()

    def stop(self, model: str, task: str | None = None) -> list[dict]:
        raise ClientError(501, "Unloading is not offered on Ray: each deployment keeps its model in its replicas.",
                          hint="Scale the deployment down instead (serve deploy with fewer replicas).",
                          code="not_supported")

    def loaded(self) -> list[dict]:
        """Each deployment: its model, status, replicas by state, and answers by node and process."""
        from ray import serve

        try:
            app_name = serve.get_replica_context().app_name
            status = serve.status().applications.get(app_name)
            deployments = status.deployments if status else {}
        except Exception:  # noqa: BLE001 - readiness still answers, without the cluster's view
            deployments = {}
        with self._served_lock:
            served = dict(self.served)
        rows = []
        for plan in self.plans:
            state = deployments.get(plan.name)
            by_node: Counter = Counter()
            by_process = {}
            for (name, node, pid), count in served.items():
                if name == plan.name:
                    by_node[node] += count
                    by_process[f"{node}:{pid}"] = count
            rows.append({
                "task": plan.task, "model": plan.model or self.runner_model_id(plan), "deployment": plan.name,
                "status": str(getattr(state, "status", "UNKNOWN")).rsplit(".", 1)[-1],
                "replicas": {str(k).rsplit(".", 1)[-1]: v for k, v in (getattr(state, "replica_states", {}) or {}).items()},
                "answers_by_node": dict(by_node), "answers_by_process": by_process,
            })
        return rows
