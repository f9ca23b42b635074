"""Reading images: every way people hand them over, the right way up, in RGB, within the pixel limit."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from modeldeck.errors import InvalidInput
from modeldeck.media.draw import depth_to_colour, depth_to_gray, draw_boxes, overlay_masks
from modeldeck.media.image import load_image, load_images
from tests.conftest import DATA

CATS = DATA / "coco-000000039769-cats.png"


def png_bytes(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_every_source_gives_the_same_rgb_pixels():
    expected = np.asarray(Image.open(CATS).convert("RGB"))
    data = CATS.read_bytes()
    b64 = base64.b64encode(data).decode()
    sources = [
        str(CATS), CATS, data, bytearray(data), b64, "data:image/png;base64," + b64,
        Image.open(CATS), expected, io.BytesIO(data),
    ]
    for source in sources:
        image = load_image(source)
        assert image.mode == "RGB" and image.size == (640, 480), type(source)
        np.testing.assert_array_equal(np.asarray(image), expected)


def test_scikit_image_samples_load_as_rgb():
    from skimage import data

    for sample in (data.chelsea(), data.astronaut(), data.camera(), data.coffee()):
        image = load_image(sample)
        assert image.mode == "RGB" and image.size == (sample.shape[1], sample.shape[0])
    gray = load_image(data.camera())
    r, g, b = (np.asarray(gray)[..., i] for i in range(3))
    assert (r == g).all() and (g == b).all()
    floats = load_image(data.astronaut() / 255.0)  # float images in [0, 1]
    assert np.abs(np.asarray(floats).astype(int) - data.astronaut()).max() <= 1


def test_exif_orientation_is_applied(tmp_path):
    wide = Image.new("RGB", (60, 20), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 10, 20))  # a blue strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.jpg"
    wide.save(path, exif=exif.tobytes(), quality=95)
    image = load_image(path)
    assert image.size == (20, 60)  # shown upright, as a phone's gallery would
    top = np.asarray(image)[:5].mean(axis=(0, 1))
    assert top[2] > 200 and top[0] < 80  # the blue strip is now at the top


def test_transparency_flattens_onto_white_and_palette_converts():
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    image = load_image(png_bytes(rgba))
    assert image.mode == "RGB"
    assert image.getpixel((1, 1)) == (255, 255, 255) and image.getpixel((0, 0)) == (255, 0, 0)
    palette = Image.open(CATS).convert("P")
    assert load_image(png_bytes(palette)).mode == "RGB"
    assert load_image(Image.new("LA", (4, 4), (0, 0))).getpixel((0, 0)) == (255, 255, 255)
    sixteen = Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    image = load_image(png_bytes(sixteen))
    assert image.getpixel((0, 0)) == (0, 0, 0) and image.getpixel((7, 7)) == (255, 255, 255)


def test_text_renamed_jpg_is_named_as_text(tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("these are my holiday notes, not a photo\n")
    with pytest.raises(InvalidInput, match="holiday.jpg.*is text, not an image") as e:
        load_image(fake)
    assert "PNG, JPEG" in e.value.hint


def test_corrupt_image_files(tmp_path):
    data = CATS.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput, match="cut.png.*(damaged|cut short)"):
        load_image(cut)
    garbage = tmp_path / "noise.png"
    garbage.write_bytes(data[:16] + bytes(range(256)) * 4)
    with pytest.raises(InvalidInput, match="noise.png.*damaged"):
        load_image(garbage)
    with pytest.raises(InvalidInput, match="empty .0 bytes"):
        load_image(b"")


def test_zero_by_zero_images(tmp_path):
    import struct
    import zlib

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    empty_png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 0, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")
    path = tmp_path / "empty.png"
    path.write_bytes(empty_png)
    with pytest.raises(InvalidInput, match="empty PNG image .0x0 pixels"):
        load_image(path)
    with pytest.raises(InvalidInput, match="empty .0x0 pixels"):
        load_image(Image.new("RGB", (0, 0)))
    with pytest.raises(InvalidInput, match="empty"):
        load_image(np.zeros((0, 0, 3), dtype=np.uint8))


def test_oversized_images_are_refused_or_shrunk_on_request(monkeypatch):
    big = Image.new("RGB", (400, 300), (10, 200, 30))
    monkeypatch.setenv("MODELDECK_MAX_IMAGE_PIXELS", "50000")
    with pytest.raises(InvalidInput, match=r"400x300 \(0.1 megapixels\), over the limit of 0.05 megapixels") as e:
        load_image(png_bytes(big))
    assert "downscale=True" in e.value.hint and "MODELDECK_MAX_IMAGE_PIXELS" in e.value.hint
    with pytest.raises(InvalidInput, match="over the limit"):
        load_image(big)
    shrunk = load_image(png_bytes(big, "JPEG"), downscale=True)
    assert shrunk.width * shrunk.height <= 50000 and abs(shrunk.width / shrunk.height - 4 / 3) < 0.02
    monkeypatch.setenv("MODELDECK_MAX_IMAGE_PIXELS", "0")  # 0 turns the limit off
    assert load_image(big).size == (400, 300)
    monkeypatch.setenv("MODELDECK_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(InvalidInput, match="MODELDECK_MAX_IMAGE_PIXELS"):
        load_image(big)


def test_the_limit_is_checked_before_decoding(monkeypatch):
    # A 20000x20000 PNG of one colour is tiny on disk but 400 MP (1.2 GB) once decoded.
    monkeypatch.setenv("MODELDECK_MAX_IMAGE_PIXELS", "1000000")
    huge = png_bytes(Image.new("L", (20000, 20000)), optimize=True)
    assert len(huge) < 2_000_000
    with pytest.raises(InvalidInput, match="20000x20000 .400.0 megapixels"):
        load_image(huge)


def test_missing_paths_urls_and_odd_types_get_clear_messages(tmp_path):
    with pytest.raises(InvalidInput, match="No such image file: 'nope/cat.png'"):
        load_image("nope/cat.png")
    with pytest.raises(InvalidInput, match="URL"):
        load_image("https://example.com/cat.png")
    with pytest.raises(InvalidInput, match="folder"):
        load_image(str(tmp_path))
    long_folder = tmp_path / ("photos" * 12)  # a long path is all base64 letters: still a folder
    long_folder.mkdir()
    with pytest.raises(InvalidInput, match="folder"):
        load_image(str(long_folder))
    with pytest.raises(InvalidInput, match="not valid base64"):
        load_image("data:image/png;base64,@@@@")
    with pytest.raises(InvalidInput, match="Cannot read an image from the int"):
        load_image(42)
    with pytest.raises(InvalidInput, match="shape"):
        load_image(np.zeros((5, 5, 7)))
    with pytest.raises(InvalidInput, match="empty: give at least one image"):
        load_images([])


def test_drawing_helpers_keep_the_picture_size():
    image = Image.open(CATS).convert("RGB")
    boxed = draw_boxes(image, [{"label": "cat", "score": 0.99, "box": {"xmin": 10, "ymin": 20, "xmax": 300, "ymax": 400}}])
    assert boxed.size == image.size and boxed.getpixel((10, 200)) != image.getpixel((10, 200))
    assert image.getpixel((10, 200)) == Image.open(CATS).convert("RGB").getpixel((10, 200))  # input untouched
    mask = np.zeros((480, 640), bool)
    mask[100:200, 100:200] = True
    overlaid = overlay_masks(image, [Image.fromarray(mask)])
    assert overlaid.getpixel((150, 150)) != image.getpixel((150, 150))
    assert overlaid.getpixel((400, 400)) == image.getpixel((400, 400))
    ramp = np.linspace(0, 5, 64 * 32, dtype=np.float32).reshape(32, 64)
    gray = depth_to_gray(ramp)
    assert gray.mode == "L" and gray.size == (64, 32)
    assert np.asarray(gray).min() == 0 and np.asarray(gray).max() == 255
    coloured = depth_to_colour(ramp)
    assert coloured.mode == "RGB" and coloured.getpixel((0, 0)) != coloured.getpixel((63, 31))


def test_a_real_sized_base64_picture_is_decoded_not_taken_for_a_path():
    import base64
    import io

    import numpy
    from PIL import Image

    from modeldeck.pipelines import get_task

    buffer = io.BytesIO()
    Image.fromarray(numpy.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=numpy.uint8)).save(buffer, "PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    assert len(encoded) > 4096  # longer than any file name
    task = get_task("object-detection")
    inputs, params = task.spec.bind(encoded, {})
    task.check(inputs, params)
    assert inputs["image"].size == (64, 64)
