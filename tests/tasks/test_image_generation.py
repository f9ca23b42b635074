"""Image generation: text-to-image, image-to-image and inpainting on tiny Stable Diffusion pipelines, and
DALL·E Mini / Mega through min-dalle's model classes (fixture hub: tests/fixtures/models_diffusion.py)."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import modeldeck
from modeldeck.errors import InvalidInput
from tests.conftest import run_module
from tests.fakehub import FakeHub

SD = "CompVis/stable-diffusion-v1-4"
SD_INPAINT = "stable-diffusion-v1-5/stable-diffusion-inpainting"
FAST = {"steps": 2, "width": 64, "height": 64}


def picture(width=96, height=64, seed=0) -> Image.Image:
    return Image.fromarray((np.random.RandomState(seed).rand(height, width, 3) * 255).astype("uint8"))


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def snapshot(fixture_hub, model_id):
    repo = fixture_hub / ("models--" + model_id.replace("/", "--"))
    return repo / "snapshots" / (repo / "refs" / "main").read_text()


# -- text-to-image ----------------------------------------------------------------------------------


def test_same_seed_same_picture_other_seed_other_picture_at_the_asked_size():
    make = modeldeck.load("text-to-image")
    steps = []
    first = make("a red cube", seed=3, steps=2, width=64, height=48, on_progress=lambda done, total: steps.append(done))
    again = make("a red cube", seed=3, steps=2, width=64, height=48)
    other = make("a red cube", seed=4, steps=2, width=64, height=48)
    assert first["images"][0].size == (64, 48)
    assert first["images"][0].tobytes() == again["images"][0].tobytes()
    assert first["images"][0].tobytes() != other["images"][0].tobytes()
    assert first["seed"] == 3 and first["nsfw"] == [False]
    assert steps == sorted(steps) and steps[-1] >= 2, "a progress report per denoising step"
    drawn = make("a red cube", num_images=2, **FAST)  # no seed: one is drawn and reported, so it can be redone
    assert len(drawn["images"]) == 2 and drawn["images"][0].tobytes() != drawn["images"][1].tobytes()
    redo = make("a red cube", num_images=2, seed=drawn["seed"], **FAST)
    assert [i.tobytes() for i in redo["images"]] == [i.tobytes() for i in drawn["images"]]


def test_parity_with_a_plain_diffusers_pipeline(fixture_hub):
    import torch
    from diffusers import StableDiffusionPipeline

    ours = modeldeck.run("text-to-image", "a lighthouse", seed=7, steps=3, guidance_scale=6.0, width=64, height=64,
                         negative_prompt="fog")
    pipe = StableDiffusionPipeline.from_pretrained(snapshot(fixture_hub, SD))
    pipe.set_progress_bar_config(disable=True)
    plain = pipe("a lighthouse", num_inference_steps=3, guidance_scale=6.0, width=64, height=64,
                 negative_prompt="fog", generator=torch.Generator().manual_seed(7)).images[0]
    assert np.abs(pixels(ours["images"][0]) - pixels(plain)).max() <= 1


def test_schedulers_by_name_and_the_models_own_by_default():
    make = modeldeck.load("text-to-image")
    euler = make("a boat", seed=1, scheduler="euler", **FAST)
    assert euler["parameters"]["scheduler_class"] == "EulerDiscreteScheduler"
    assert make("a boat", seed=1, **FAST)["parameters"]["scheduler_class"] == "PNDMScheduler"
    with pytest.raises(InvalidInput, match="one of"):
        make("a boat", scheduler="fastest")


def test_a_flagged_picture_is_blacked_out_and_reported_never_silently():
    import torch

    make = modeldeck.load("text-to-image")
    with make.leased() as state:
        checker = state.pipe.safety_checker
    saved = checker.concept_embeds_weights.clone()
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(-1.0)  # every picture now scores over the threshold
    try:
        with pytest.warns(modeldeck.errors.Notice, match="safety checker flagged"):
            flagged = make("a cat", seed=1, **FAST)
        unchecked = make("a cat", seed=1, safety_checker=False, **FAST)
    finally:
        with torch.no_grad():
            checker.concept_embeds_weights.copy_(saved)
    assert flagged["nsfw"] == [True] and not pixels(flagged["images"][0]).any()
    assert unchecked["nsfw"] == [False] and pixels(unchecked["images"][0]).any()
    assert state.pipe.safety_checker is checker, "turning it off is for that call only"


@pytest.mark.parametrize(
    "task, inputs, params, message",
    [
        ("text-to-image", "a cat", {"width": 500}, "multiple of 8"),
        ("text-to-image", "a cat", {"steps": 0}, "steps must be"),
        ("text-to-image", "a cat", {"guidance_scale": -1}, "guidance_scale must be"),
        ("text-to-image", "   ", {}, "empty"),
        ("image-to-image", None, {"strength": 1.5}, "strength must be"),
        ("inpainting", "bad-mask", {}, "notes.png.* not an image"),
        ("image-to-image", "corrupt", {}, "cut.png"),
    ],
)
def test_bad_input_is_refused_before_any_model_loads(task, inputs, params, message, monkeypatch, tmp_path):
    from modeldeck import pool

    monkeypatch.setattr(pool.default_pool, "get", lambda *a, **k: pytest.fail("loaded a model"))
    good = tmp_path / "good.png"
    picture().save(good)
    text = tmp_path / "notes.png"
    text.write_text("this is text, not a picture")
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:100])
    if inputs == "bad-mask":
        inputs = {"image": str(good), "mask": str(text), "prompt": "a dog"}
    elif inputs == "corrupt":
        inputs = {"image": str(cut), "prompt": "a dog"}
    elif task == "image-to-image":
        inputs = {"image": str(good), "prompt": "a dog"}
    with pytest.raises(InvalidInput, match=message):
        modeldeck.run(task, inputs, **params)


def test_cli_writes_a_grid_and_numbered_pngs_with_the_settings_inside_and_json_as_base64(cli, tmp_path):
    out = tmp_path / "out.png"
    args = ("run", "text-to-image", "a green hill", "--steps", "2", "--width", "64", "--height", "64", "--seed", "5")
    result = cli(*args, "--num-images", "2", "-o", str(out))
    assert result.code == 0, result.err
    one, two = tmp_path / "out-1.png", tmp_path / "out-2.png"
    assert f"Saved to {out}, {one}, {two}" in result.err  # every file written, named
    grid = Image.open(out)
    assert grid.size == (128, 64)  # the two pictures side by side
    assert np.array_equal(pixels(grid.crop((64, 0, 128, 64))), pixels(Image.open(two)))
    assert json.loads(grid.text["parameters"])["seed"] == 5
    saved = Image.open(one)
    settings = json.loads(saved.text["parameters"])
    assert settings["prompt"] == "a green hill" and settings["seed"] == 5 and settings["steps"] == 2
    assert settings["model"] == SD and saved.text["prompt"] == "a green hill"
    # the settings make the same picture again
    again = modeldeck.run("text-to-image", settings["prompt"], seed=settings["seed"], steps=settings["steps"],
                          width=settings["width"], height=settings["height"], num_images=2)
    assert again["images"][0].tobytes() == saved.convert("RGB").tobytes()
    result = cli(*args, "--json")
    data = json.loads(result.out)
    assert Image.open(io.BytesIO(base64.b64decode(data["images"][0]))).size == (64, 64)
    assert data["nsfw"] == [False] and data["seed"] == 5


# -- image-to-image and inpainting --------------------------------------------------------------------


def test_image_to_image_keeps_more_of_the_picture_at_low_strength():
    import torch

    blocks = np.zeros((64, 64, 3), "uint8")
    blocks[:32], blocks[32:, :32], blocks[32:, 32:] = (200, 40, 40), (30, 160, 60), (40, 60, 220)
    source = Image.fromarray(blocks)
    redraw = modeldeck.load("image-to-image")
    near = redraw({"image": source, "prompt": "a forest"}, strength=0.05, steps=20, seed=2)
    far = redraw({"image": source, "prompt": "a forest"}, strength=0.95, steps=20, seed=2)
    assert near["images"][0].size == (64, 64) and near["parameters"]["strength"] == 0.05
    # A random VAE's round trip is itself lossy, so "the input" is the picture after that round trip:
    # what strength -> 0 tends to.
    with redraw.leased() as state:
        pipe = state.pipe
    with torch.no_grad():
        latents = pipe.vae.encode(pipe.image_processor.preprocess(source)).latent_dist.mean
        kept = pipe.image_processor.postprocess(pipe.vae.decode(latents).sample)[0]
    distance = lambda r: np.abs(pixels(r["images"][0]) - pixels(kept)).mean()  # noqa: E731
    assert distance(near) * 2 < distance(far)


def test_image_to_image_takes_the_pictures_size_rounded_to_the_vae_cells():
    with pytest.warns(modeldeck.errors.Notice, match="multiple of 8"):
        result = modeldeck.run("image-to-image", {"image": picture(70, 60), "prompt": "x"}, steps=2, seed=1)
    assert result["images"][0].size == (64, 56)


@pytest.mark.parametrize("model", [SD, SD_INPAINT])
def test_inpainting_changes_the_masked_area_and_keeps_the_rest_exactly(model):
    source = picture(64, 64, seed=3)
    mask = Image.new("RGBA", (32, 32), (0, 0, 0, 255))  # another mode and size: converted and resized
    mask.paste((255, 255, 255, 255), (0, 0, 16, 32))  # the left half (of the picture, once resized)
    result = modeldeck.run("inpainting", {"image": source, "mask": mask, "prompt": "a dog"}, model=model,
                           steps=3, seed=1)
    out, before = pixels(result["images"][0]), pixels(source)
    assert out.shape == before.shape
    assert (out[:, 34:] == before[:, 34:]).all(), "outside the mask the picture is the input"
    assert (out[:, :30] != before[:, :30]).mean() > 0.5, "the masked area is repainted"


def test_inpainting_refuses_an_all_black_mask_and_inpainting_models_elsewhere():
    with pytest.raises(InvalidInput, match="all black"):
        modeldeck.run("inpainting", {"image": picture(), "mask": Image.new("L", (96, 64)), "prompt": "x"}, steps=1)
    with pytest.raises(InvalidInput, match="inpainting model"):
        modeldeck.run("text-to-image", "x", model=SD_INPAINT, **FAST)


# -- DALL·E Mini / Mega ----------------------------------------------------------------------------------


def test_dalle_mini_seeded_pictures_and_its_own_parameters():
    mini = modeldeck.load("text-to-image", "dalle-mini/dalle-mini")
    first = mini("an armchair shaped like an avocado", seed=5)
    again = mini("an armchair shaped like an avocado", seed=5)
    other = mini("an armchair shaped like an avocado", seed=6, top_k=64, temperature=0.5)
    assert first["images"][0].size == (256, 256) and first["parameters"]["model"] == "dalle-mini/dalle-mini"
    assert first["images"][0].tobytes() == again["images"][0].tobytes()
    assert first["images"][0].tobytes() != other["images"][0].tobytes()
    assert other["parameters"]["top_k"] == 64
    with pytest.raises(InvalidInput, match="does not take steps"):
        mini("a cat", steps=10)
    with pytest.raises(InvalidInput, match="DALL·E Mini"):
        modeldeck.run("text-to-image", "a cat", grid_size=2, **FAST)


def test_dalle_mega_runs_its_own_files_and_makes_a_grid():
    mega = modeldeck.load("text-to-image", "dalle-mini/dalle-mega")
    with mega.leased() as state, modeldeck.load("text-to-image", "dalle-mini/dalle-mini").leased() as mini:
        assert state.dalle.suffix == "" and state.dalle.layers == 2
        assert mini.dalle.suffix == "_mini"
    result = mega("sunset over the sea", seed=1, grid_size=2)
    assert len(result["images"]) == 4 and {i.size for i in result["images"]} == {(256, 256)}


def test_dalle_mini_grid_size_saves_the_grid_and_each_picture_and_says_so(cli, tmp_path):
    out = tmp_path / "avocado.png"
    result = cli("run", "text-to-image", "an avocado armchair", "-m", "dalle-mini/dalle-mini", "--grid-size", "2",
                 "--seed", "3", "-o", str(out))
    assert result.code == 0, result.err
    parts = [tmp_path / f"avocado-{n}.png" for n in range(1, 5)]
    assert "Saved to " + ", ".join(map(str, [out, *parts])) in result.err
    grid = Image.open(out)
    assert grid.size == (512, 512)
    assert np.array_equal(pixels(grid.crop((256, 256, 512, 512))), pixels(Image.open(parts[3])))


def test_importing_min_dalle_models_leaves_torch_settings_alone():
    code = (
        "import torch; torch.set_num_threads(1); before = (torch.get_num_threads(), torch.is_grad_enabled(), "
        "torch.backends.cudnn.allow_tf32)\n"
        "from modeldeck.backends.min_dalle import dalle_modules; models, _ = dalle_modules()\n"
        "assert models.DalleBartDecoder and 'min_dalle' not in __import__('sys').modules\n"
        "assert (torch.get_num_threads(), torch.is_grad_enabled(), torch.backends.cudnn.allow_tf32) == before"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# -- pulling and memory -------------------------------------------------------------------------------


def v1_4_layout(fixture_hub) -> tuple[dict[str, bytes], set[str]]:
    """The fixture pipeline's files plus everything else the real v1.4 repo holds; and the fixture's own names."""
    source = snapshot(fixture_hub, SD)
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    extra = {"sd-v1-4.ckpt": b"c" * 300, "sd-v1-4-full-ema.ckpt": b"e" * 300, "v1-variants-scores.jpg": b"jpg"}
    for part, weights in (("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"),
                          ("text_encoder", "model"), ("safety_checker", "model")):
        pickle = "pytorch_model" if weights == "model" else weights
        extra[f"{part}/{pickle}.bin"] = b"p" * 200
        extra[f"{part}/{pickle}.fp16.bin"] = b"h" * 100
        extra[f"{part}/{weights}.fp16.safetensors"] = b"h" * 100
        extra[f"{part}/{'diffusion_flax_model' if weights != 'model' else 'flax_model'}.msgpack"] = b"f" * 100
    extra["unet/diffusion_pytorch_model.non_ema.bin"] = b"n" * 200
    extra["unet/diffusion_pytorch_model.non_ema.safetensors"] = b"n" * 200
    return {**files, **extra}, set(files)


def test_pull_fetches_only_what_diffusers_loads_and_dry_run_lists_it(fixture_hub, tmp_path, monkeypatch):
    hub = FakeHub().start()
    try:
        files, wanted = v1_4_layout(fixture_hub)
        commit = hub.add(SD, files)
        cache = tmp_path / "hub"
        import os

        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "MODELDECK_OFFLINE")}
        env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(cache), HF_HUB_DISABLE_TELEMETRY="1")
        dry = run_module("pull", SD, "--dry-run", env=env, timeout=120)
        assert dry.returncode == 0, dry.stderr
        assert "unet/diffusion_pytorch_model.safetensors" in dry.stdout and ".ckpt" not in dry.stdout
        assert not cache.exists() or not any(cache.rglob("*.safetensors")), "--dry-run downloads nothing"
        result = run_module("pull", SD, "-q", env=env, timeout=120)
        assert result.returncode == 0, result.stderr
    finally:
        hub.stop()
    folder = cache / ("models--" + SD.replace("/", "--")) / "snapshots" / commit
    got = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert got == wanted, "one weight format, no .ckpt, fp16, non-EMA, pickle or Flax copies"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    from modeldeck.pool import Pool

    result = Pool().get("text-to-image", SD, "cpu")("a cat", seed=1, **FAST)
    assert result["images"][0].size == (64, 64)


def test_pull_of_dalle_mini_lists_only_its_files_of_kuprel_min_dalle(fixture_hub, tmp_path):
    import os

    hub = FakeHub().start()
    try:
        source = snapshot(fixture_hub, "kuprel/min-dalle")
        hub.add("kuprel/min-dalle", {p.name: b"x" * 10 for p in source.iterdir()})
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "MODELDECK_OFFLINE")}
        env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_DISABLE_TELEMETRY="1")
        mini = run_module("pull", "dalle-mini/dalle-mini", "--dry-run", env=env, timeout=120)
        mega = run_module("pull", "dalle-mini/dalle-mega", "--dry-run", env=env, timeout=120)
    finally:
        hub.stop()
    assert mini.returncode == 0 and mega.returncode == 0, mini.stderr + mega.stderr
    listed = lambda out: {n for n in ("encoder_mini.pt", "decoder_mini.pt", "vocab_mini.json", "encoder.pt",  # noqa: E731
                                      "decoder.pt", "vocab.json", "detoker.pt") if re.search(rf"(^|\s){n}", out, re.M)}
    assert listed(mini.stdout) == {"encoder_mini.pt", "decoder_mini.pt", "vocab_mini.json", "detoker.pt"}
    assert listed(mega.stdout) == {"encoder.pt", "decoder.pt", "vocab.json", "detoker.pt"}


LOAD_RSS = """
import gc, json, sys
import psutil
import modeldeck
# Imported before measuring: only the load counts.
from diffusers import StableDiffusionPipeline
from transformers import CLIPTextModel, CLIPTokenizer
from modeldeck.pipelines import get_task
get_task("text-to-image")
process = psutil.Process()
gc.collect()
before = process.memory_info().rss
runner = modeldeck.load("text-to-image", sys.argv[1])
gc.collect()
print(json.dumps(process.memory_info().rss - before))
"""


def test_pipeline_memory_prediction_matches_a_measured_load(fixture_hub):
    from modeldeck.backends.diffusers import predict_pipeline_bytes, working_bytes

    folder = snapshot(fixture_hub, SD)
    fp32 = predict_pipeline_bytes(folder, "fp32", "cpu")
    loaded = fp32 - working_bytes("fp32", "cpu")  # the prediction less one 512x512 generation's working memory
    # A fresh process: the suite's own freed memory would hide part of the load's growth.
    result = subprocess.run([sys.executable, "-c", LOAD_RSS, SD], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    grew = json.loads(result.stdout.splitlines()[-1])
    # Measured 65.5 MB against 68.6 MB predicted (every part's tensors and per-model overhead) on 2 cores.
    assert abs(grew - loaded) <= 0.25 * loaded, f"loading grew RSS by {grew / 1e6:.1f} MB, predicted {loaded / 1e6:.1f} MB"
    assert predict_pipeline_bytes(folder, "fp16", "cuda") < fp32


# -- web UI and Spaces ------------------------------------------------------------------------------------


def test_ui_tabs_show_a_gallery_for_several_pictures_and_step_progress():
    pytest.importorskip("gradio")
    from modeldeck.ui.app import build_app

    app = build_app(["text-to-image", "image-to-image", "inpainting"])
    assert list(app.modeldeck_tabs) == ["text-to-image", "image-to-image", "inpainting"]
    tab = app.modeldeck_tabs["text-to-image"]
    reports = []
    pictures = tab.call(tab.values({"prompt": "a kite"}, {"num_images": 2, "seed": 1, **FAST}),
                        progress=lambda fraction, desc=None: reports.append(desc))
    assert len(pictures) == 2 and pictures[0].size == (64, 64)  # the pictures themselves, in the gallery
    assert "Step 3/3" in reports, reports  # PNDM: 2 steps are 3 model passes


def test_space_export_asks_zerogpu_for_time_that_fits_the_steps(cli, tmp_path):
    out = tmp_path / "space"
    result = cli("space", "export", "text-to-image", "--out", str(out))
    assert result.code == 0, result.err
    app = (out / "app.py").read_text()
    assert "GPU_SECONDS = 120" in app and "spaces.GPU(duration=GPU_SECONDS)" in app
    assert any(line.startswith(("min-dalle==", "diffusers==")) for line in (out / "requirements.txt").read_text().split())


def test_dalle_mini_temperature_has_the_floor_generation_has():
    # 1e-300 is 0 in float32: min-dalle divided by it ('probability tensor contains inf/nan')
    with pytest.raises(InvalidInput, match="temperature must be between 0.01 and 100, not 1e-300"):
        modeldeck.run("text-to-image", "a cat", model="dalle-mini/dalle-mini", temperature=1e-300)
