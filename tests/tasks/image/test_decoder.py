"""The one image decoder (flashtrain.tasks.image.files.read_image): every mode Pillow reads, EXIF orientation,
and the same tensor through every route (training, validation and predict datasets, in-memory PIL images, the
Predictor behind `flash-train serve` and the Python API, and a real serve request)."""

from __future__ import annotations

import base64
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from flashtrain.tasks import ImageClassificationData, ImageClassifier
from flashtrain.tasks.image import files as image_files
from flashtrain.tasks.image.files import ImageReadError, read_image
from flashtrain.tasks.inference import predictor_for

H, W = 6, 8
LEVELS = np.arange(H * W, dtype=np.float64).reshape(H, W) / (H * W - 1)  # 0 .. 1, every pixel different


def _rgb(height: int = H, width: int = W) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) * 10 % 256], -1).astype(
        np.uint8
    )


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _write_all_modes(folder) -> dict[str, np.ndarray | None]:
    """One file per mode; the value is the RGB array the decoder must give (None: Pillow's convert is the truth)."""
    gray8 = np.rint(LEVELS * 255).astype(np.uint8)
    expected: dict[str, np.ndarray | None] = {}

    def save(name: str, image: Image.Image, want: np.ndarray | None, **options) -> None:
        image.save(folder / name, **options)
        expected[name] = want

    def gray(levels: np.ndarray) -> np.ndarray:
        return np.repeat(levels[:, :, None], 3, axis=2)

    save("rgb.png", Image.fromarray(_rgb()), _rgb())
    save("gray.png", Image.fromarray(gray8, "L"), gray(gray8))
    save("interlaced.png", Image.fromarray(_rgb()), _rgb(), optimize=False)
    save("rgb.jpg", Image.fromarray(_rgb()), None, quality=95)
    save("gray.jpg", Image.fromarray(gray8, "L"), None, quality=95)
    save("progressive.jpg", Image.fromarray(_rgb()), None, quality=90, progressive=True)
    save("cmyk.jpg", Image.fromarray(_rgb()).convert("CMYK"), None, quality=95)
    save("palette.png", Image.fromarray(_rgb()).convert("P"), None)
    save("la.png", Image.fromarray(np.stack([gray8, gray8], -1), "LA"), gray(gray8))
    save("rgba.png", Image.fromarray(np.concatenate([_rgb(), np.full((H, W, 1), 7, np.uint8)], -1)), _rgb())
    save("transparent.png", Image.fromarray(_rgb()), _rgb(), transparency=(0, 0, 0))
    save("bilevel.png", Image.fromarray(gray8 > 127).convert("1"), gray(np.where(gray8 > 127, 255, 0)))
    # deeper than 8 bits: scaled by the real range, never clipped to white
    save("deep16.png", Image.fromarray(np.rint(LEVELS * 65535).astype(np.uint16)), gray(gray8))
    save("int32.tif", Image.fromarray(np.rint(LEVELS * 65535).astype(np.int32), "I"), gray(gray8))
    save("float255.tif", Image.fromarray((LEVELS * 255).astype(np.float32), "F"), gray(gray8))
    save("float01.tif", Image.fromarray(LEVELS.astype(np.float32), "F"), gray(gray8))
    # animated: the first frame
    frames = [Image.fromarray(_rgb()).convert("P"), Image.fromarray(255 - _rgb()).convert("P")]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    expected["animated.gif"] = None
    # EXIF orientation 6 (rotate 90 degrees clockwise to display): stored W x H, shown H x W
    stored = np.ascontiguousarray(np.rot90(_rgb(), 1))  # what a camera held sideways writes
    save("rotated.jpg", Image.fromarray(stored), None, quality=95, exif=_exif(6))
    save("rotated.png", Image.fromarray(stored), _rgb(), exif=_exif(6))
    return expected


@pytest.fixture(scope="module")
def all_modes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("modes")
    return folder, _write_all_modes(folder)


def _pillow_reference(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def test_every_mode_decodes_to_rgb_at_its_real_range(all_modes, monkeypatch):
    monkeypatch.setattr(image_files, "warned_once", {"animated"})
    folder, expected = all_modes
    for name, want in expected.items():
        decoded = read_image(folder / name, name)
        assert decoded.dtype == torch.uint8 and decoded.shape == (3, H, W), name
        got = decoded.permute(1, 2, 0).numpy()
        reference = _pillow_reference(folder / name) if want is None else want
        assert np.array_equal(got, reference), name
    # the cases that came out (nearly) white before: a float TIFF of 0-255 and a 16-bit PNG
    for name in ("float255.tif", "deep16.png", "int32.tif"):
        assert read_image(folder / name, name).float().mean() < 140, name


def test_exif_orientation_is_applied_on_both_decoders(all_modes):
    folder, _ = all_modes
    jpeg, png = read_image(folder / "rotated.jpg", "j"), read_image(folder / "rotated.png", "p")
    assert jpeg.shape == png.shape == (3, H, W)  # turned upright
    assert np.array_equal(png.permute(1, 2, 0).numpy(), _rgb())
    # JPEG is lossy: the upright JPEG is close to the original, and far from it unrotated
    assert (jpeg.permute(1, 2, 0).int() - torch.from_numpy(_rgb()).int()).abs().float().mean() < 8


def test_animated_images_give_their_first_frame_and_say_so_once(all_modes, monkeypatch):
    folder, _ = all_modes
    monkeypatch.setattr(image_files, "warned_once", set())
    with pytest.warns(UserWarning, match=r"animated.gif is animated \(2 frames\): only its first frame is used"):
        first = read_image(folder / "animated.gif", "animated.gif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(folder / "animated.gif", "animated.gif")  # no second warning
    assert np.array_equal(
        first.permute(1, 2, 0).numpy(), np.asarray(Image.fromarray(_rgb()).convert("P").convert("RGB"))
    )


def _photo(seed: int, size=(500, 375)) -> np.ndarray:
    """Smooth colour fields with edges and noise, like a photo as far as a JPEG codec is concerned."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size[1] // 25, size[0] // 25, 3), dtype=np.uint8)
    image = np.asarray(Image.fromarray(small).resize(size, Image.BILINEAR)).astype(np.int16)
    return np.clip(image + rng.integers(-20, 21, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    "name, options",
    [
        ("q90.jpg", {"quality": 90}),
        ("q75-444.jpg", {"quality": 75, "subsampling": 0}),
        ("progressive.jpg", {"quality": 85, "progressive": True}),
        ("gray.jpg", {"quality": 90, "mode": "L"}),
        ("rgb.png", {}),
        ("gray.png", {"mode": "L"}),
    ],
)
def test_torchvision_decodes_jpeg_and_png_pixel_identical_to_pillow(tmp_path, name, options):
    """The fast path is taken only where it gives Pillow's pixels: the same libjpeg-turbo integer IDCT and
    fancy upsampling, and lossless PNG. (Different libjpeg builds may round an IDCT output differently; a
    difference of 1 level on under 1% of the pixels would still pass, anything more fails.)"""
    mode = options.pop("mode", "RGB")
    path = tmp_path / name
    Image.fromarray(_photo(len(name))).convert(mode).save(path, **options)
    assert image_files.decoded_by_torchvision(path.read_bytes())
    fast = read_image(path, name).int()
    pillow = torch.from_numpy(_pillow_reference(path).copy()).permute(2, 0, 1).int()
    difference = (fast - pillow).abs()
    assert difference.max() <= 1 and (difference > 0).float().mean() < 0.01
    if name.endswith(".png"):
        assert difference.max() == 0


def test_unreadable_images_are_named(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageReadError, match=r"Cannot read image broken.jpg: .*Remove it"):
        read_image(tmp_path / "broken.jpg", "broken.jpg", "Remove it.")
    with pytest.raises(ImageReadError, match=r"Cannot read image text.png: cannot identify image file"):
        read_image(tmp_path / "text.png", "text.png")
    with pytest.raises(ImageReadError, match=r"Cannot read image gone.png: No such file or directory"):
        read_image(tmp_path / "gone.png", "gone.png")


def test_the_fast_path_keeps_pillows_pixel_limit(tmp_path, monkeypatch):
    Image.fromarray(_rgb(40, 40)).save(tmp_path / "big.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 pixels > 2 x limit
    with pytest.raises(ImageReadError, match=r"big.jpg: 40x40 = 1600 pixels is over twice PIL.Image.MAX_IMAGE"):
        read_image(tmp_path / "big.jpg", "big.jpg")


def test_every_route_gives_the_same_tensor(all_modes, monkeypatch):
    """Datasets (train/val/predict, what `flash-train predict` uses), in-memory PIL images, the Predictor (serve,
    the Python API) from a path, bytes, base64 or a PIL image, and a real serve request: one decoder, one tensor."""
    from fastapi.testclient import TestClient

    from flashtrain.tasks.serve import create_app

    monkeypatch.setattr(image_files, "warned_once", {"animated"})
    folder, expected = all_modes
    paths = [str(folder / name) for name in expected]
    decoded = torch.stack([read_image(path, path) for path in paths]).float() / 255
    plain = dict(image_size=(H, W), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), batch_size=len(paths))
    labels = ["a", "b"] * (len(paths) // 2) + ["a"] * (len(paths) % 2)
    data = ImageClassificationData.from_files(
        train_files=paths,
        train_targets=labels,
        val_files=paths,
        val_targets=labels,
        predict_files=paths,
        train_transform="none",
        **plain,
    )
    for stage in ("train", "val", "predict"):
        dataset = data.datasets[stage]
        images = torch.stack([dataset[i][0] if stage != "predict" else dataset[i] for i in range(len(paths))])
        assert torch.allclose(images, decoded, atol=1e-6, rtol=0), stage  # one level is 0.004
    pil_images = [Image.open(path) for path in paths]
    in_memory = ImageClassificationData.from_images(predict_images=pil_images, **plain).datasets["predict"]
    assert torch.allclose(torch.stack([in_memory[i] for i in range(len(paths))]), decoded, atol=1e-6, rtol=0)

    config = {"image_size": [H, W], "mean": [0.0] * 3, "std": [1.0] * 3}
    model = ImageClassifier(backbone="test_resnet", labels=["a", "b"], pretrained=False, image_config=config).eval()
    predictor = predictor_for(model)
    raw = [Path(path).read_bytes() for path in paths]
    for form in (paths, raw, [base64.b64encode(b).decode() for b in raw], pil_images):
        assert torch.allclose(torch.stack(predictor.prepare(form)), decoded, atol=1e-6, rtol=0)
    with torch.inference_mode():
        logits = model.predict_step((decoded,), 0)
    with TestClient(create_app(model)) as client:
        answer = client.post(
            "/predict", json={"inputs": [base64.b64encode(b).decode() for b in raw], "output": "logits"}
        )
    assert answer.status_code == 200
    assert torch.allclose(torch.tensor(answer.json()["predictions"]), logits, atol=1e-5)
