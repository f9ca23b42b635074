"""The Ray plan without a cluster: the printed Serve config, option checks, and Ray failures as client errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

yaml = pytest.importorskip("yaml")

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def modeldeck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modeldeck", *args], check=False, capture_output=True, text=True, timeout=120)


def test_print_config_is_a_serve_config_with_fractional_cpus_and_predicted_memory():
    done = modeldeck("serve", "--print-config", "--preload", "whisper-1", "--preload", f"feature-extraction={MINILM}",
                     "--replicas", f"{MINILM}=2", "--min-replicas", "whisper-1=1", "--max-replicas", "whisper-1=3",
                     "--api-key", "secret-key", "--host", "0.0.0.0", "--port", "8123")
    assert done.returncode == 0, done.stderr
    assert "secret-key" not in done.stdout  # keys stay out of config files
    config = yaml.safe_load(done.stdout)
    assert config["http_options"] == {"host": "0.0.0.0", "port": 8123}
    app = config["applications"][0]
    assert app["import_path"] == "modeldeck.cluster:build" and app["route_prefix"] == "/"
    deployments = {d["name"]: d for d in app["deployments"]}
    ingress = deployments.pop("Ingress")
    assert ingress["ray_actor_options"]["num_cpus"] == 0
    by_task = {d["name"].split("--")[0]: d for d in deployments.values()}
    embed, asr = by_task["feature-extraction"], by_task["automatic-speech-recognition"]
    assert embed["num_replicas"] == 2 and 0 < embed["ray_actor_options"]["num_cpus"] < 1
    assert embed["ray_actor_options"]["memory"] > 400 * 1024 * 1024  # the model plus a process's runtime
    assert asr["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 2.0}
    models = {m["task"]: m for m in app["args"]["models"]}
    assert models["automatic-speech-recognition"]["model"] is None  # whisper-1: the task's default model


def test_ray_needs_the_models_named():
    done = modeldeck("serve", "--print-config")
    assert done.returncode != 0
    assert "--preload" in done.stderr


def test_bad_replica_count_is_refused_by_name():
    done = modeldeck("serve", "--print-config", "--preload", "whisper-1", "--replicas", "whisper-1=zero")
    assert done.returncode != 0 and "--replicas" in done.stderr


@pytest.fixture
def ray_models():
    pytest.importorskip("ray.serve")
    from modeldeck.cluster.plan import ModelPlan
    from modeldeck.cluster.remote import RayModels
    from modeldeck.server.config import ServerConfig

    plans = [ModelPlan("feature-extraction", MINILM), ModelPlan("automatic-speech-recognition", None)]
    return RayModels(ServerConfig(), plans, [object(), object()], timeout=5)


def test_models_are_the_deployments(ray_models):
    from modeldeck.errors import ModelNotAvailable

    assert ray_models.tasks_for(MINILM) == ["feature-extraction"]
    assert ray_models.runner("automatic-speech-recognition", None).plan.model is None
    with pytest.raises(ModelNotAvailable, match="not deployed on this cluster"):
        ray_models.tasks_for("openai/whisper-large-v3")


def test_lost_replica_and_timeout_are_retryable(ray_models):
    import ray.exceptions as rex

    from modeldeck.server.errors import ClientError

    plan = ray_models.plans[0]

    def died():
        raise rex.ActorDiedError()

    def slow():
        raise TimeoutError()

    for fail, status in ((died, 503), (slow, 504)):
        with pytest.raises(ClientError) as caught:
            ray_models.wait(fail, plan)
        assert caught.value.status == status and caught.value.headers["Retry-After"]
        assert "Retry" in caught.value.hint


def test_replica_errors_come_back_with_their_hint():
    from modeldeck.cluster.remote import rebuilt
    from modeldeck.cluster.replica import as_data
    from modeldeck.errors import InvalidInput

    error = rebuilt(as_data(InvalidInput("texts is empty.", "Give at least one text.")))
    assert isinstance(error, InvalidInput) and error.hint == "Give at least one text."
