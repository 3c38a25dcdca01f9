"""Image files: finding them (class folders, lists of paths), checking them, and THE image decoder.

Every route that turns an image file or PIL image into pixels calls :func:`read_image`: training, validation and
prediction datasets, ``flash-train predict``, ``serve`` requests and the Python ``Predictor``. It returns the
uint8 RGB tensor (3, H, W) that Pillow's reading would give, with the EXIF orientation applied:

- 8-bit RGB or grayscale JPEG and PNG (nearly every training file) are decoded by ``torchvision.io.decode_image``
  (libjpeg-turbo / libpng, about 1.4x faster than Pillow on a 500x375 JPEG and no PIL image object in between).
  Which files qualify is read from the header, so that the result is the one Pillow gives: both libraries
  decode these formats with the same integer IDCT and upsampling, and the tests compare them pixel by pixel;
- everything else goes through Pillow: 16-bit and 32-bit grayscale (``I;16``, ``I``) and float (``F``) images
  are scaled by their real range (Pillow's own ``convert("RGB")`` clips them: 16-bit images come out nearly
  white), palette, CMYK, LA/RGBA (alpha dropped), 1-bit, PNGs with a transparency chunk, animated images (the
  first frame, with one warning per process), and every other format Pillow reads (BMP, GIF, TIFF, WebP, ...).
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SKIP_ADVICE = "Remove or fix the file, or pass skip_bad_files=True to skip unreadable files with a warning."
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2}  # baseline, extended and progressive Huffman: what both libraries decode alike
warned_once: set[str] = set()  # the warnings given once per process, by name


class ImageReadError(ValueError):
    """An image that cannot be read; the message names it and says why."""


def read_image(source: Any, where: str, advice: str = "") -> torch.Tensor:
    """The one image decoder: a file path, the bytes of an image file, or a PIL image -> uint8 RGB (3, H, W).

    Args:
        source: A path, ``bytes``/``bytearray``, or a ``PIL.Image.Image``.
        where: How to name the image in an error (its path, "input 3", ...).
        advice: A sentence appended to an error (what the user can do about a bad file on this route).

    Raises:
        ImageReadError: The file is missing, not an image, truncated or over Pillow's pixel limit.
    """
    if hasattr(source, "getexif"):  # an image already opened by Pillow
        return _with_pillow(lambda: _pil_to_tensor(source, where), where, advice)
    data = (
        bytearray(source) if isinstance(source, (bytes, bytearray, memoryview)) else file_bytes(source, where, advice)
    )
    header = _torchvision_readable(data)
    if header is not None:
        _check_pixels(header, where, advice)
        decoded = _decode_with_torchvision(data)
        if decoded is not None:
            return decoded
    return _with_pillow(lambda: _open_with_pillow(data, where), where, advice)


def file_bytes(path: Any, where: str, advice: str = "") -> bytearray:
    """The bytes of an image file (what :func:`read_image` decodes); a missing or unreadable file is an
    :class:`ImageReadError` naming it."""
    try:
        return _read_bytes(os.fspath(path))
    except OSError as error:
        raise ImageReadError(_message(where, error.strerror or str(error), advice)) from None


def decoded_by_torchvision(data: bytes | bytearray) -> bool:
    """Whether :func:`read_image` decodes these file bytes with torchvision (else with Pillow)."""
    return _torchvision_readable(bytearray(data)) is not None


def _read_bytes(path: str) -> bytearray:
    # A writable buffer, so torch.frombuffer shares it without a copy or a warning.
    with open(path, "rb") as file:
        data = bytearray(os.fstat(file.fileno()).st_size)
        read = file.readinto(data)
    return data[:read] if read < len(data) else data


def _message(where: str, reason: str, advice: str) -> str:
    return f"Cannot read image {where}: {reason.rstrip('.')}." + (f" {advice}" if advice else "")


def _torchvision_readable(data: bytearray) -> tuple[int, int] | None:
    """(width, height) when torchvision decodes ``data`` to the pixels Pillow would give, else None."""
    if data[:8] == _PNG_SIGNATURE:
        return _png_header(data)
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_header(data)
    return None


def _png_header(data: bytearray) -> tuple[int, int] | None:
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, depth, color_type = struct.unpack(">IIBB", data[16:26])
    if depth != 8 or color_type not in (0, 2):  # 8-bit grayscale or RGB only; palette, alpha, 16-bit: Pillow
        return None
    position = 8
    while position + 8 <= len(data):  # the chunks before the pixels: transparency or animation go to Pillow
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = bytes(data[position + 4 : position + 8])
        if kind == b"IDAT":
            return width, height
        if kind in (b"tRNS", b"acTL"):
            return None
        position += 12 + length
    return None


def _jpeg_header(data: bytearray) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame marker
            if marker not in _JPEG_FRAMES or position + 10 > len(data):
                return None
            precision, height, width, components = struct.unpack(">BHHB", data[position + 4 : position + 10])
            # 8-bit grayscale or YCbCr/RGB; CMYK/YCCK (4 components) and 12-bit JPEGs go to Pillow
            return (width, height) if precision == 8 and components in (1, 3) and height > 0 else None
        position += 2 + length
    return None


def _check_pixels(size: tuple[int, int], where: str, advice: str) -> None:
    """Pillow's decompression-bomb rule (refuse over twice ``PIL.Image.MAX_IMAGE_PIXELS``) on the fast path too."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit and size[0] * size[1] > 2 * limit:
        raise ImageReadError(
            _message(
                where,
                f"{size[0]}x{size[1]} = {size[0] * size[1]} pixels is over twice PIL.Image.MAX_IMAGE_PIXELS ({limit}), "
                "a guard against decompression bombs. Resize it (the model sees a few hundred pixels a side "
                "anyway), or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file",
                advice,
            )
        )


def _decode_with_torchvision(data: bytearray) -> torch.Tensor | None:
    from torchvision.io import ImageReadMode, decode_image

    with warnings.catch_warnings():
        # torchvision 0.29 deprecates its decoders in favour of TorchCodec (not a dependency of ours): one
        # warning per call would flood every epoch.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            buffer = torch.frombuffer(data, dtype=torch.uint8)
            return decode_image(buffer, mode=ImageReadMode.RGB, apply_exif_orientation=True)
        except RuntimeError:
            return None  # corrupt or unusual: Pillow reads it, or says what is wrong with it


def _with_pillow(read: Any, where: str, advice: str) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    try:
        return read()
    except Image.DecompressionBombError as error:
        reason = (
            f"{error} Resize it (the model sees a few hundred pixels a side anyway), or raise "
            "PIL.Image.MAX_IMAGE_PIXELS if you trust the file"
        )
        raise ImageReadError(_message(where, reason, advice)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, ImageReadError):
            raise
        raise ImageReadError(_message(where, str(error), advice)) from None


def _open_with_pillow(data: bytearray, where: str) -> torch.Tensor:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return _pil_to_tensor(image, where)


def _pil_to_tensor(image: Any, where: str) -> torch.Tensor:
    """A PIL image as uint8 RGB (3, H, W): EXIF orientation applied, deep and float images scaled, alpha dropped."""
    from PIL import ImageOps

    if getattr(image, "n_frames", 1) > 1 and "animated" not in warned_once:
        warned_once.add("animated")
        warnings.warn(
            f"{where} is animated ({image.n_frames} frames): only its first frame is used (said once per process).",
            stacklevel=4,
        )
    image.load()
    image = ImageOps.exif_transpose(image) or image
    if image.mode.startswith("I") or image.mode == "F":
        pixels = _scaled_to_8_bit(np.asarray(image), image.mode)
        rgb = np.repeat(pixels[:, :, None], 3, axis=2)
    else:
        rgb = np.asarray(image.convert("RGB"))
    return torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1)


def _scaled_to_8_bit(values: np.ndarray, mode: str) -> np.ndarray:
    """Grayscale of more than 8 bits -> uint8 by its real range (Pillow's ``convert`` clips instead).

    ``I;16*`` is 16-bit by definition. ``I`` (32-bit int) and ``F`` (32-bit float) carry no range, so it is read
    from the values: floats within [0, 1] are fractions, values within 0-255 are 8-bit levels, within 0-65535
    16-bit levels, larger ones are scaled by their maximum. Negative values are black."""
    values = values.astype(np.float64)
    brightest = float(np.nanmax(values, initial=0.0))
    if mode.startswith("I;16"):
        top = 65535.0
    elif mode == "F" and brightest <= 1.0:
        top = 1.0
    elif brightest <= 255:
        top = 255.0
    elif brightest <= 65535:
        top = 65535.0
    else:
        top = brightest
    return np.clip(np.rint(np.nan_to_num(values) * (255.0 / top)), 0, 255).astype(np.uint8)


# -- finding and checking files --------------------------------------------------------------------------------
def is_hidden(name: str) -> bool:
    return name.startswith(".")


def check_image_file(path: str) -> None:
    if not path.lower().endswith(IMAGE_EXTENSIONS):
        raise ValueError(
            f"{path} is not an image file (allowed extensions: {', '.join(IMAGE_EXTENSIONS)}). Remove it, or pass "
            "skip_bad_files=True to skip such files with a warning."
        )


def readable(path: str) -> bool:
    """Whether :func:`read_image` reads ``path`` (what ``skip_bad_files`` keeps)."""
    try:
        read_image(path, path)
        return True
    except ImageReadError:
        return False


def scan_class_folders(folder: str, argument: str, skip_bad_files: bool) -> tuple[list[str], list[str]]:
    """(files, class names) from ``folder/<class>/<image>``; errors name the folder or file at fault."""
    if folder is None or not os.path.isdir(folder):
        raise FileNotFoundError(f"{argument}={folder!r} is not a folder. Pass a folder with one sub-folder per class.")
    classes = sorted(d for d in os.listdir(folder) if not is_hidden(d) and os.path.isdir(os.path.join(folder, d)))
    if not classes:
        raise ValueError(
            f"{argument}={folder!r} has no class folders: expected one sub-folder per class "
            "(e.g. train/cat/1.jpg, train/dog/2.jpg)."
        )
    files, targets, skipped = [], [], []
    for name in classes:
        class_files = []
        for root, names in walk_files(os.path.join(folder, name)):
            for file_name in sorted(names):
                if is_hidden(file_name):
                    continue
                path = os.path.join(root, file_name)
                if skip_bad_files and (not path.lower().endswith(IMAGE_EXTENSIONS) or not readable(path)):
                    skipped.append(path)
                    continue
                check_image_file(path)
                class_files.append(path)
        if not class_files:
            raise ValueError(f"Class folder {os.path.join(folder, name)!r} has no images. Add images or remove it.")
        files += class_files
        targets += [name] * len(class_files)
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} unreadable or non-image file(s) in {folder}: {skipped[:5]}", stacklevel=3
        )
    return files, targets


def walk_files(folder: str) -> Iterator[tuple[str, list[str]]]:
    """(folder, file names) under ``folder``, following symlinked folders (each real folder once: no cycles)."""
    seen: set[str] = set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        yield root, names


def files_under(folder: str, argument: str) -> list[str]:
    """Every non-hidden file under ``folder``, sorted (a predict folder)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{argument}={folder!r} is not a folder.")
    return sorted(
        os.path.join(root, name) for root, names in walk_files(folder) for name in names if not is_hidden(name)
    )


def check_files(files: Sequence[str], argument: str, skip_bad_files: bool) -> list[int]:
    """Indices of the usable files; missing or non-image files raise (or are skipped with a warning)."""
    keep, skipped = [], []
    for index, path in enumerate(files):
        if not os.path.isfile(path):
            if skip_bad_files:
                skipped.append(path)
                continue
            raise FileNotFoundError(f"{argument}: no file at {path!r}.")
        if skip_bad_files and (not path.lower().endswith(IMAGE_EXTENSIONS) or not readable(path)):
            skipped.append(path)
            continue
        check_image_file(path)
        keep.append(index)
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} missing, unreadable or non-image file(s): {skipped[:5]}", stacklevel=3)
    if not keep:
        raise ValueError(f"{argument} has no usable image files.")
    return keep
