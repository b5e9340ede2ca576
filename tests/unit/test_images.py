"""Still-image decoding: real photos in every pixel layout, and every kind of file that must be refused."""

from __future__ import annotations

import resource
import shutil
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from vigil.config.schema import IngestConfig
from vigil.errors import BadInput
from vigil.ingest.images import decode_image, load_image

CONFIG = IngestConfig()
REF_PHOTOS = ["ageitgey_obama.jpg", "ageitgey_two_people.jpg", "ageitgey_lin-manuel-miranda.png"]


def pil_bgr(path: Path) -> npt.NDArray[np.uint8]:
    """What the pixels should be: Pillow's RGB decode, channels reversed."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)[:, :, ::-1]


def grey_photo(refs: Path) -> npt.NDArray[np.uint8]:
    with Image.open(refs / "ageitgey_obama.jpg") as im:
        return np.asarray(im.convert("L"), dtype=np.uint8)


@pytest.mark.parametrize("name", REF_PHOTOS)
def test_real_photo_is_bgr_uint8(refs: Path, name: str) -> None:
    image = load_image(refs / name, CONFIG)

    assert image.dtype == np.uint8
    assert image.flags.c_contiguous
    np.testing.assert_array_equal(image, pil_bgr(refs / name))


def test_decode_image_from_bytes_matches_load_image(refs: Path) -> None:
    path = refs / "ageitgey_biden.jpg"

    np.testing.assert_array_equal(decode_image(path.read_bytes(), "upload", CONFIG), load_image(path, CONFIG))


def test_grey_png_becomes_three_equal_channels(refs: Path, tmp_path: Path) -> None:
    grey = grey_photo(refs)
    path = tmp_path / "grey.png"
    Image.fromarray(grey).save(path)

    image = load_image(path, CONFIG)

    assert image.shape == (*grey.shape, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], grey)


def test_16_bit_grey_png_is_scaled_not_clipped(refs: Path, tmp_path: Path) -> None:
    """Pillow's convert("L") clips 16-bit values at 255, which would turn the photo white."""
    grey = grey_photo(refs)
    path = tmp_path / "grey16.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(path)  # 0..255 -> 0..65535
    with Image.open(path) as check:
        assert check.mode.startswith("I")  # really stored as 16-bit

    image = load_image(path, CONFIG)

    np.testing.assert_array_equal(image[:, :, 1], grey)


def test_rgba_png_is_composited_over_white(refs: Path, tmp_path: Path) -> None:
    rgb = pil_bgr(refs / "ageitgey_obama.jpg")[:, :, ::-1]
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    half = rgb.shape[1] // 2
    alpha[:, :half] = 0  # left half fully transparent
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA").save(path)

    image = load_image(path, CONFIG)

    assert image.shape == rgb.shape
    assert (image[:, :half] == 255).all()
    np.testing.assert_array_equal(image[:, half:], rgb[:, half:, ::-1])


@pytest.mark.parametrize("fmt", ["WEBP", "BMP"])
def test_other_accepted_formats(refs: Path, tmp_path: Path, fmt: str) -> None:
    rgb = pil_bgr(refs / "ageitgey_obama2.jpg")[:, :, ::-1]
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.fromarray(rgb).save(path, format=fmt, lossless=True)

    np.testing.assert_array_equal(load_image(path, CONFIG), rgb[:, :, ::-1])


def test_exif_orientation_is_applied(refs: Path, tmp_path: Path) -> None:
    rgb = pil_bgr(refs / "ageitgey_obama.jpg")[:, :, ::-1]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rotated.png"  # PNG keeps the pixels exact; Pillow writes the EXIF as an eXIf chunk
    Image.fromarray(rgb).save(path, exif=exif)

    image = load_image(path, CONFIG)

    np.testing.assert_array_equal(image, np.rot90(rgb, k=-1)[:, :, ::-1])


def _text(path: Path, refs: Path) -> None:
    path.write_text("name,score\nobama,0.93\n")


def _empty(path: Path, refs: Path) -> None:
    path.write_bytes(b"")


def _truncated_jpeg(path: Path, refs: Path) -> None:
    data = (refs / "ageitgey_obama.jpg").read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _video(path: Path, refs: Path) -> None:
    clip = refs.parent / "video" / "ageitgey_short_hamilton_clip.mp4"
    path.write_bytes(clip.read_bytes()[:100_000])


def _gif(path: Path, refs: Path) -> None:
    Image.open(refs / "ageitgey_obama.jpg").save(path, format="GIF")


def _random(path: Path, refs: Path) -> None:
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes())


def _folder(path: Path, refs: Path) -> None:
    path.mkdir()


def _corrupt_png(path: Path, refs: Path) -> None:
    data = bytearray((refs / "ageitgey_alex-lacamoire.png").read_bytes())
    data[16:24] = b"\xff" * 8  # width and height in IHDR, now with a wrong CRC
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("notes.jpg", _text, "not an image (it looks like text)"),
        ("empty.jpg", _empty, "empty file (0 bytes)"),
        ("half.jpg", _truncated_jpeg, "truncated or corrupt JPEG image (image file is truncated"),
        ("clip.jpg", _video, "not an image (it looks like MP4/MOV video)"),
        ("anim.gif", _gif, "unsupported image format (GIF); expected JPEG, PNG, BMP or WebP"),
        ("noise.png", _random, "not an image (format not recognised"),
        ("folder.jpg", _folder, "is a folder, not an image file"),
        ("bad_header.png", _corrupt_png, "corrupt PNG image (unreadable header"),
    ],
)
def test_bad_file_is_refused_with_its_reason(
    refs: Path, tmp_path: Path, name: str, make: Callable[[Path, Path], None], reason: str
) -> None:
    path = tmp_path / name
    make(path, refs)

    with pytest.raises(BadInput) as caught:
        load_image(path, CONFIG)

    assert caught.value.reason.startswith(reason)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"missing\.jpg: file not found$"):
        load_image(tmp_path / "missing.jpg", CONFIG)


def test_unreadable_file(refs: Path, tmp_path: Path) -> None:
    path = tmp_path / "locked.jpg"
    shutil.copy(refs / "ageitgey_obama.jpg", path)
    path.chmod(0)
    try:
        path.open("rb").close()
    except PermissionError:
        pass
    else:
        pytest.skip("permissions are not enforced here (running as root?)")
    with pytest.raises(BadInput, match=r"permission denied"):
        load_image(path, CONFIG)


def test_file_over_the_byte_limit_is_refused_before_reading(lfw_photos: list[Path]) -> None:
    path = lfw_photos[0]
    size = path.stat().st_size

    with pytest.raises(BadInput) as caught:
        load_image(path, IngestConfig(max_image_bytes=1000))

    assert caught.value.reason == f"file is {size:,} bytes, above the limit of 1,000 bytes"
    with pytest.raises(BadInput, match="above the limit of 1,000 bytes"):
        decode_image(path.read_bytes(), "upload", IngestConfig(max_image_bytes=1000))


def test_image_over_the_pixel_limit(lfw_photos: list[Path]) -> None:
    with pytest.raises(BadInput) as caught:
        load_image(lfw_photos[0], IngestConfig(max_image_pixels=10_000))

    assert caught.value.reason == "image is 250×250 = 62,500 pixels, above the limit of 10,000 pixels"


@contextmanager
def memory_growth() -> Iterator[dict[str, float]]:
    """Peak Python/numpy allocations (tracemalloc) and growth of the process's peak RSS, in MB."""
    result: dict[str, float] = {}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        yield result
    finally:
        result["traced_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        result["rss_mb"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        ) / 1024  # KiB on Linux


@pytest.mark.parametrize("bomb", ["png_bomb", "jpeg_bomb"])
def test_decompression_bomb_is_refused_from_its_header(bomb: str, request: pytest.FixtureRequest) -> None:
    """400 million pixels would take 400 MB (1-bit PNG in Pillow) or 1.2 GB (RGB) if decoded."""
    path: Path = request.getfixturevalue(bomb)
    assert path.stat().st_size < 200_000  # the file itself is small

    with memory_growth() as grown, pytest.raises(BadInput) as caught:
        load_image(path, CONFIG)

    assert caught.value.reason == "image is 20000×20000 = 400 MP, above the limit of 40 MP"
    assert grown["traced_mb"] < 20, grown
    assert grown["rss_mb"] < 100, grown


def test_bomb_in_memory_is_refused_too(png_bomb: Path) -> None:
    with memory_growth() as grown, pytest.raises(BadInput, match="20000×20000 = 400 MP"):
        decode_image(png_bomb.read_bytes(), "upload.png", CONFIG)
    assert grown["traced_mb"] < 20, grown


def test_bomb_under_pillows_limit_is_refused_by_ours(
    tmp_path: Path, make_png_bomb: Callable[[Path, int, int], None]
) -> None:
    """8,000 × 8,000 passes Pillow's own guard (~179 MP) but not Vigil's 40 MP."""
    path = tmp_path / "big.png"
    make_png_bomb(path, 8_000, 8_000)

    with pytest.raises(BadInput, match=r"image is 8000×8000 = 64 MP, above the limit of 40 MP"):
        load_image(path, CONFIG)


def _webp_header(width: int, height: int) -> bytes:
    """A lossless WebP whose header declares ``width`` × ``height`` (the bitstream is a stub)."""
    bits = (width - 1) | ((height - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + bytes(32)
    body = b"WEBP" + b"VP8L" + len(payload).to_bytes(4, "little") + payload
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def test_webp_size_is_checked_before_libwebp_allocates_its_canvas() -> None:
    with memory_growth() as grown, pytest.raises(BadInput) as caught:
        decode_image(_webp_header(10_000, 10_000), "big.webp", CONFIG)

    assert caught.value.reason == "image is 10000×10000 = 100 MP, above the limit of 40 MP"
    assert grown["rss_mb"] < 100, grown


def test_pillows_own_bomb_error_becomes_bad_input() -> None:
    """With Vigil's limit raised past Pillow's, Pillow's DecompressionBombError must not escape."""
    config = IngestConfig(max_image_pixels=1_000_000_000)

    with pytest.raises(BadInput) as caught:
        decode_image(_webp_header(16_383, 16_383), "huge.webp", config)

    assert caught.value.reason.startswith(
        "image is too large to decode safely (Image size (268402689 pixels)"
    )
