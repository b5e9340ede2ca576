"""Small helpers shared by tests."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np
import pytest

from vigil.types import Image


def skip_unless_required(reason: str, require_env: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it when ``require_env=1`` (CI: a missing service is a failure,
    not a skip, so its tests cannot silently stop running)."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{reason} ({require_env}=1, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def read_bgr(path: Path) -> Image:
    """A real image from the test data, BGR, failing loudly if it is missing."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return np.asarray(image, dtype=np.uint8)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def write_png_bomb(path: Path, width: int, height: int) -> None:
    """A genuine 1-bit grey PNG of ``width`` × ``height`` black pixels, written row by row.

    20,000 × 20,000 compresses to ~50 KB but Pillow would hold it as 400 MB (one byte per pixel).
    """
    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes((width + 7) // 8)  # filter type 0, then the packed bits
    idat = bytearray()
    for _ in range(height):
        idat += compressor.compress(row)
    idat += compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale, no interlace
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", bytes(idat))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a JPEG) with the frame size in its SOF header replaced; the pixel data is untouched."""
    pos = 2  # after SOI
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"not a JPEG marker at byte {pos}")
        marker = data[pos + 1]
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame
            patched = bytearray(data)
            struct.pack_into(">HH", patched, pos + 5, height, width)  # after length and precision
            return bytes(patched)
        pos += 2 + length
    raise ValueError("no start-of-frame marker found")
