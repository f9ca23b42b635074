"""The model pool's memory budget, and safe loading (pickle, remote code)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modeldeck.errors import InvalidInput, ModelTooLarge, UnsafeModel
from modeldeck.hub import resolve
from modeldeck.memory import format_bytes
from modeldeck.pool import Pool, memory_budget, predicted_size

from .conftest import run_module

BERT = "google-bert/bert-base-uncased"
DISTIL = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def size(model: str) -> int:
    return predicted_size(resolve(model).path, "cpu")


def test_least_recently_used_model_is_evicted_to_fit_the_budget():
    a, b, c = size(BERT), size(DISTIL), size(MINILM)
    pool = Pool(budget=a + max(b, c) + 1)
    bert = pool.get("fill-mask", BERT, "cpu")
    pool.get("text-classification", DISTIL, "cpu")
    assert pool.used("cpu") == a + b
    assert pool.get("fill-mask", BERT, "cpu") is bert, "reused, and now the most recently used"
    pool.get("feature-extraction", MINILM, "cpu")
    assert [s["model"] for s in pool.stats()] == [BERT, MINILM], "distilbert, least recently used, went"
    assert pool.used("cpu") == a + c <= pool.budget_for("cpu")


def test_a_model_that_cannot_fit_alone_is_refused_before_loading():
    a = size(BERT)
    pool = Pool(budget=a - 1)
    with pytest.raises(ModelTooLarge) as e:
        pool.get("fill-mask", BERT, "cpu")
    assert isinstance(e.value, MemoryError)
    assert format_bytes(a) in e.value.message and format_bytes(a - 1) in e.value.message
    assert "MODELDECK_MEMORY_BUDGET" in e.value.hint and pool.stats() == []


def test_budget_from_the_environment(monkeypatch):
    import psutil

    monkeypatch.setenv("MODELDECK_MEMORY_BUDGET", "50%")
    assert memory_budget("cpu") == int(psutil.virtual_memory().total * 0.5)
    monkeypatch.setenv("MODELDECK_MEMORY_BUDGET", "2GiB")
    assert memory_budget("cpu") == 2 * 1024**3
    monkeypatch.setenv("MODELDECK_MEMORY_BUDGET", "none")
    assert memory_budget("cpu") is None
    monkeypatch.delenv("MODELDECK_MEMORY_BUDGET")
    assert memory_budget("cpu") == int(psutil.virtual_memory().total * 0.7)
    for bad in ("150%", "lots", "12 parsecs"):
        monkeypatch.setenv("MODELDECK_MEMORY_BUDGET", bad)
        with pytest.raises(InvalidInput):
            memory_budget("cpu")


def test_cli_refuses_a_model_over_the_budget_with_the_numbers():
    import os

    env = dict(os.environ, MODELDECK_MEMORY_BUDGET="1MB")
    result = run_module("run", "fill-mask", "Paris is the [MASK].", env=env, timeout=120)
    assert result.returncode == 1
    assert f"needs about {format_bytes(size(BERT))}" in result.stderr and "budget of 1.0 MB" in result.stderr
    assert "Traceback" not in result.stderr


# -- safe loading ------------------------------------------------------------------------------------------


def copy_snapshot(model: str, target: Path, skip: tuple[str, ...] = ()) -> Path:
    target.mkdir(parents=True)
    for file in resolve(model).path.iterdir():
        if file.name not in skip:
            shutil.copyfile(file, target / file.name)  # follows the cache's symlinks
    return target


@pytest.fixture
def pickled_bert(tmp_path) -> Path:
    import torch
    from safetensors.torch import load_file

    folder = copy_snapshot(BERT, tmp_path / "pickled-bert", skip=("model.safetensors",))
    torch.save(load_file(resolve(BERT).path / "model.safetensors"), folder / "pytorch_model.bin")
    return folder


def test_pickle_only_checkpoint_is_refused_unless_allowed(pickled_bert, monkeypatch, cli):
    with pytest.raises(UnsafeModel) as e:
        Pool().get("fill-mask", str(pickled_bert), "cpu")
    assert "only pickle weights (pytorch_model.bin)" in e.value.message
    assert f"MODELDECK_ALLOW_PICKLE={pickled_bert}" in e.value.hint and "allow_pickle=True" in e.value.hint
    result = cli("run", "fill-mask", "a [MASK]", "--model", str(pickled_bert))
    assert result.code == 1 and "MODELDECK_ALLOW_PICKLE" in result.err and "Traceback" not in result.err
    assert "--allow-pickle" in result.err
    allowed = cli("run", "fill-mask", "a [MASK]", "--model", str(pickled_bert), "--allow-pickle", "--json")
    assert allowed.code == 0 and len(json.loads(allowed.out)) == 5

    runner = Pool().get("fill-mask", str(pickled_bert), "cpu", allow_pickle=True)
    assert len(runner("Paris is the [MASK].", top_k=2)) == 2
    monkeypatch.setenv("MODELDECK_ALLOW_PICKLE", f"someone/else,{pickled_bert}")
    with Pool().get("fill-mask", str(pickled_bert), "cpu").leased() as state:
        assert state.model is not None


class Payload:
    """Unpickling this creates a file: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_allowed_pickle_is_still_loaded_weights_only(pickled_bert, tmp_path):
    import torch

    marker = tmp_path / "pwned"
    torch.save({"bert.embeddings.word_embeddings.weight": Payload(marker)}, pickled_bert / "pytorch_model.bin")
    with pytest.raises(UnsafeModel, match="more than tensors"):
        Pool().get("fill-mask", str(pickled_bert), "cpu", allow_pickle=True)
    assert not marker.exists(), "the payload never ran"


def test_remote_code_is_refused_unless_allowed(tmp_path):
    from modeldeck.backends.transformers import check_remote_code

    folder = copy_snapshot(BERT, tmp_path / "custom")
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="my-new-arch", auto_map={"AutoModelForMaskedLM": "modeling_my.MyModel"})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsafeModel) as e:
        Pool().get("fill-mask", str(folder), "cpu")
    assert "trust_remote_code" in e.value.message
    assert f"MODELDECK_TRUST_REMOTE_CODE={folder}" in e.value.hint
    assert check_remote_code(folder, trust_remote_code=True) is True


def test_auto_map_on_a_known_architecture_needs_no_remote_code(tmp_path):
    folder = copy_snapshot(BERT, tmp_path / "known")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForMaskedLM": "modeling_bert_custom.Model"}
    (folder / "config.json").write_text(json.dumps(config))
    assert len(Pool().get("fill-mask", str(folder), "cpu")("a [MASK]", top_k=1)) == 1


def test_pickle_only_sentence_transformer_is_refused_unless_allowed(tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "st-pickle"
    shutil.copytree(resolve("sentence-transformers/all-MiniLM-L6-v2").path, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(UnsafeModel, match="only pickle weights"):
        Pool().get("feature-extraction", str(folder), "cpu")
    runner = Pool().get("feature-extraction", str(folder), "cpu", allow_pickle=True)
    assert len(runner(["hello"])[0]) == 32


def test_an_evicted_model_whose_files_were_removed_is_found_again(fixture_hub, tmp_path, monkeypatch):
    """'modeldeck rm' (or a moved cache) while a pooled model is evicted: the next call resolves it again instead
    of loading from a folder that is gone."""
    copy = tmp_path / "hub"
    shutil.copytree(fixture_hub / "models--gpt2", copy / "models--gpt2", symlinks=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(copy))
    pool = Pool()
    runner = pool.get("text-generation", "gpt2", "cpu")
    first = runner("Hello", max_new_tokens=3)
    with runner.leased() as state:
        assert Path(state.model_path).is_relative_to(copy)
    assert pool.unload(runner)
    shutil.rmtree(copy)
    monkeypatch.setenv("HF_HUB_CACHE", str(fixture_hub))
    assert runner("Hello", max_new_tokens=3) == first
    with runner.leased() as state:
        assert Path(state.model_path).is_relative_to(fixture_hub)
    pool.clear()
