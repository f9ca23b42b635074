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


def test_one_model_answers_http_itself_with_bounded_queues():
    done = modeldeck("serve", "--print-config", "--preload", f"feature-extraction={MINILM}", "--queue-size", "10",
                     "--min-replicas", "1", "--max-replicas", "3", "--autoscaling", "downscale_delay_s=30",
                     "--autoscaling", "upscale_delay_s=2")
    assert done.returncode == 0, done.stderr
    assert "RAY_AUTH_MODE=token serve deploy" in done.stdout  # the step a token-authenticated cluster needs
    app = yaml.safe_load(done.stdout)["applications"][0]
    [deployment] = app["deployments"]  # no separate ingress: Serve's proxy -> the model's replicas
    assert deployment["name"].startswith("feature-extraction--")
    # the runner refuses past 10 (modeldeck's 503); Serve holds at most 10 more waiting for a replica
    assert deployment["max_ongoing_requests"] == 10 + 16 and deployment["max_queued_requests"] == 10
    assert deployment["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 2.0,
                                                "downscale_delay_s": 30.0, "upscale_delay_s": 2.0}
    separate = yaml.safe_load(modeldeck("serve", "--print-config", "--preload", f"feature-extraction={MINILM}",
                                        "--separate-ingress").stdout)["applications"][0]
    assert [d["name"] for d in separate["deployments"]][0] == "Ingress" and len(separate["deployments"]) == 2
    assert separate["args"]["separate_ingress"] is True


@pytest.mark.parametrize("value", ["upscale_delay=1", "downscale_delay_s=-1", "downscale_delay_s=soon",
                                   "look_back_period_s"])
def test_bad_autoscaling_fields_are_refused_by_name(value):
    done = modeldeck("serve", "--print-config", "--preload", "whisper-1", "--autoscaling", value)
    assert done.returncode != 0 and "--autoscaling" in done.stderr and "Traceback" not in done.stderr


def test_a_cluster_that_wants_a_token_is_explained(monkeypatch):
    pytest.importorskip("ray")
    import ray

    from modeldeck.cluster.app import connect
    from modeldeck.errors import InvalidInput

    def refused(**_):
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.5:6379")

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.setattr(ray, "init", refused)
    with pytest.raises(InvalidInput) as caught:
        connect("10.0.0.5:6379")
    assert "RAY_AUTH_MODE=token" in caught.value.hint and "10.0.0.5:6379" in caught.value.message
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # token mode on already: Ray's own error stands
    with pytest.raises(ConnectionError):
        connect("10.0.0.5:6379")


class FakeGenerator:
    """What a streaming deployment handle gives: items, then the end; ``cancel`` stops the replica."""

    def __init__(self, items):
        self.items, self.cancelled = list(items), False

    def __iter__(self):
        yield from self.items

    def cancel(self):
        self.cancelled = True


class FakeHandle:
    def __init__(self, items):
        self.generator = FakeGenerator(items)

    def options(self, **_):
        return self

    @property
    def stream(self):
        return self

    def remote(self, inputs, params):
        return self.generator


def remote_runner(items, queue_size: int = 64):
    pytest.importorskip("ray.serve")
    from modeldeck.cluster.plan import ModelPlan
    from modeldeck.cluster.remote import RayModels, RemoteRunner
    from modeldeck.server.config import ServerConfig

    plan = ModelPlan("text-generation", "gpt2")
    handle = FakeHandle(items)
    models = RayModels(ServerConfig(queue_size=queue_size), [plan], [handle], timeout=5)
    return RemoteRunner(models, plan, handle), handle.generator


def test_a_stream_the_replica_refuses_raises_before_any_piece():
    from modeldeck.cluster.replica import as_data
    from modeldeck.errors import InvalidInput

    runner, generator = remote_runner([{"error": as_data(InvalidInput("temperature is 500.", "Use 0.01 to 100."))}])
    with pytest.raises(InvalidInput, match="temperature"):
        runner.stream("Once", temperature=500)
    assert runner.admission.in_flight == 0 and generator.cancelled


def test_a_stream_gives_its_pieces_notices_and_result_then_frees_its_place():
    from modeldeck import notices

    runner, generator = remote_runner([{"start": True, "notes": ["cut to 1024 tokens"], "node": "n", "pid": 1},
                                       {"piece": "Hello"}, {"piece": " world"},
                                       {"end": True, "result": [{"generated_text": "Hello world"}],
                                        "notes": ["stopped at the limit"]}])
    with notices.collected() as at_start:
        stream = runner.stream("Once")
    assert at_start == ["cut to 1024 tokens"] and runner.admission.in_flight == 1
    with notices.collected() as at_end:
        assert list(stream) == ["Hello", " world"]
    assert at_end == ["stopped at the limit"] and stream.result == [{"generated_text": "Hello world"}]
    assert runner.admission.in_flight == 0


def test_closing_a_stream_cancels_it_on_the_replica():
    runner, generator = remote_runner([{"start": True, "notes": []}, *({"piece": "x"} for _ in range(100))])
    stream = runner.stream("Once")
    assert next(stream) == "x"
    stream.close()
    assert generator.cancelled and runner.admission.in_flight == 0


def test_a_full_queue_refuses_a_stream_before_asking_the_replica():
    from modeldeck.errors import ModelBusy

    runner, generator = remote_runner([{"start": True, "notes": []}, {"piece": "x"}], queue_size=1)
    held = runner.stream("Once")
    with pytest.raises(ModelBusy):
        runner.stream("Once")
    held.close()


def test_a_stream_cut_short_by_a_lost_replica_is_a_retryable_error():
    from modeldeck.server.errors import ClientError

    runner, _ = remote_runner([{"start": True, "notes": []}, {"piece": "x"}])  # no end item: the replica went
    stream = runner.stream("Once")
    assert next(stream) == "x"
    with pytest.raises(ClientError) as caught:
        next(stream)
    assert caught.value.status == 503 and caught.value.headers["Retry-After"]
    assert runner.admission.in_flight == 0


def test_vectors_travel_as_one_float32_array():
    np = pytest.importorskip("numpy")
    from modeldeck.outputs import for_transport
    from modeldeck.pipelines import get_task

    vectors = for_transport(get_task("feature-extraction").spec.output, [[0.1, 0.2], [0.3, 0.4]])
    assert isinstance(vectors, np.ndarray) and vectors.dtype == np.dtype("<f4") and vectors.shape == (2, 2)
    labels = [{"label": "POSITIVE", "score": 0.9}]
    assert for_transport(get_task("text-classification").spec.output, labels) is labels


def test_a_config_listening_beyond_loopback_needs_a_key_on_the_replicas(monkeypatch):
    pytest.importorskip("ray.serve")
    from modeldeck.cluster.ingress import server_config
    from modeldeck.cluster.plan import ClusterPlan

    done = modeldeck("serve", "--print-config", "--preload", f"feature-extraction={MINILM}", "--host", "0.0.0.0")
    args = yaml.safe_load(done.stdout)["applications"][0]["args"]
    assert args["require_key"] is True and "api_key" not in args["server"]
    plan = ClusterPlan.from_args(args)
    monkeypatch.delenv("MODELDECK_API_KEY", raising=False)
    with pytest.raises(RuntimeError, match="MODELDECK_API_KEY"):
        server_config(plan)
    monkeypatch.setenv("MODELDECK_API_KEY", "from-ray-start")
    assert server_config(plan).api_key == "from-ray-start"
    local = yaml.safe_load(modeldeck("serve", "--print-config", "--preload", f"feature-extraction={MINILM}").stdout)
    assert local["applications"][0]["args"]["require_key"] is False
