"""Still images -> 8-bit BGR arrays, with the checks that keep hostile files from hurting the process.

Every image goes through the same gate, whether it comes from disk (:func:`load_image`) or from an
upload (:func:`decode_image`): size in bytes, format by content (not by name), width × height read from
the header *before* any pixel is decoded (decompression bombs), then decode, EXIF orientation and
conversion of grey / alpha / 16-bit pictures to 8-bit BGR.
"""

from __future__ import annotations

import io
import logging
import stat
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
from PIL import BmpImagePlugin, Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from vigil.config.schema import IngestConfig
from vigil.errors import BadInput
from vigil.ingest.sniff import sniff
from vigil.types import Image as BgrImage

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
"""File name endings treated as still images (lower case)."""

_Opener = Callable[[IO[bytes], str], ImageFile.ImageFile]
# Chosen by content. Pillow's plugin classes read only the header when built; Image.open is not used
# because its own bomb check fires first and hides the size, so the reason could not name it.
_OPENERS: dict[str, _Opener] = {
    "JPEG image": JpegImagePlugin.jpeg_factory,
    "PNG image": PngImagePlugin.PngImageFile,
    "BMP image": BmpImagePlugin.BmpImageFile,
    "WebP image": WebPImagePlugin.WebPImageFile,
}
_SUPPORTED = "JPEG, PNG, BMP or WebP"
# What Pillow raises on a malformed header or pixel stream.
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)
_GREY16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_WHITE = (255, 255, 255, 255)


def load_image(path: Path, config: IngestConfig) -> BgrImage:
    """Read and decode one image file.

    Args:
        path: the file (JPEG, PNG, BMP or WebP, recognised by content).
        config: the byte and pixel limits.

    Returns:
        The pixels as 8-bit BGR, shape (H, W, 3), upright according to the EXIF orientation.

    Raises:
        BadInput: naming the file, when it is missing or unreadable, empty, too large (bytes or pixels),
            not an image, or truncated / corrupt.

    Example:
        >>> image = load_image(Path("refs/obama.jpg"), IngestConfig())
        >>> image.shape, image.dtype
        ((1137, 910, 3), dtype('uint8'))
    """
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise BadInput(path, "is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(path, "is not a regular file")
        if info.st_size > config.max_image_bytes:
            raise BadInput(path, _too_many_bytes(info.st_size, config.max_image_bytes))
        with path.open("rb") as f:
            data = f.read(info.st_size)  # bounded even if the file grows meanwhile
    except FileNotFoundError:
        raise BadInput(path, "file not found") from None
    except PermissionError:
        raise BadInput(path, "cannot read the file (permission denied)") from None
    except OSError as exc:
        raise BadInput(path, f"cannot read the file ({exc.strerror or exc})") from None
    return decode_image(data, str(path), config)


def decode_image(data: bytes, name: str, config: IngestConfig) -> BgrImage:
    """Decode an image held in memory (an upload, a snapshot).

    Args:
        data: the encoded file content.
        name: what to call the image in errors and logs (a file name, "upload").
        config: the byte and pixel limits.

    Returns:
        The pixels as 8-bit BGR, shape (H, W, 3), upright according to the EXIF orientation.

    Raises:
        BadInput: naming ``name``, when ``data`` is empty, too large (bytes or pixels), not an image,
            or truncated / corrupt.
    """
    if not data:
        raise BadInput(name, "empty file (0 bytes)")
    if len(data) > config.max_image_bytes:
        raise BadInput(name, _too_many_bytes(len(data), config.max_image_bytes))
    kind = sniff(data[:64])
    opener = _OPENERS.get(kind or "")
    if opener is None:
        raise BadInput(name, _not_an_image(kind))
    if kind == "WebP image" and (declared := _webp_canvas_size(data)) is not None:
        _check_pixels(declared, name, config)  # libwebp allocates the canvas as soon as it parses the file
    with warnings.catch_warnings():
        # Pillow's own bomb guard warns (rather than raises) in some places: make it an error here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = opener(io.BytesIO(data), name)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BadInput(name, f"image is too large to decode safely ({exc})") from None
        except _PIL_ERRORS as exc:
            raise BadInput(name, f"corrupt {kind} (unreadable header: {exc})") from None
        _check_pixels(image.size, name, config)
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BadInput(name, f"image is too large to decode safely ({exc})") from None
        except _PIL_ERRORS as exc:
            raise BadInput(name, f"truncated or corrupt {kind} ({exc})") from None
    return _to_bgr(_upright(image, name))


def _check_pixels(size: tuple[int, int], name: str, config: IngestConfig) -> None:
    width, height = size
    pixels = width * height
    if pixels > config.max_image_pixels:
        raise BadInput(
            name,
            f"image is {width}×{height} = {_pixel_count(pixels)}, "
            f"above the limit of {_pixel_count(config.max_image_pixels)}",
        )


def _webp_canvas_size(data: bytes) -> tuple[int, int] | None:
    """Width and height declared by a WebP header (lossy, lossless or extended), None if unreadable."""
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _upright(image: Image.Image, name: str) -> Image.Image:
    """The image rotated / flipped as its EXIF orientation says; unchanged if the EXIF is unreadable."""
    try:
        return ImageOps.exif_transpose(image)
    except _PIL_ERRORS as exc:  # a broken EXIF block should not cost the picture
        logger.warning("%s: EXIF orientation ignored (%s)", name, exc)
        return image


def _to_bgr(image: Image.Image) -> BgrImage:
    """8-bit BGR (H, W, 3) from any Pillow mode: grey, palette, alpha (over white), 16-bit grey, CMYK."""
    if image.mode in _GREY16_MODES:
        # Pillow's convert("L") clips 16-bit values at 255 instead of scaling them: scale here.
        grey16 = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        grey = (grey16 >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    rgb = np.asarray(image, dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _not_an_image(kind: str | None) -> str:
    if kind is None:
        return f"not an image (format not recognised; expected {_SUPPORTED})"
    if kind.endswith(" image"):
        return f"unsupported image format ({kind.removesuffix(' image')}); expected {_SUPPORTED}"
    return f"not an image (it looks like {kind})"


def _too_many_bytes(size: int, limit: int) -> str:
    return f"file is {size:,} bytes, above the limit of {limit:,} bytes"


def _pixel_count(pixels: int) -> str:
    if pixels < 1_000_000:
        return f"{pixels:,} pixels"
    return f"{pixels / 1e6:.1f}".removesuffix(".0") + " MP"
