"""Malformed images and videos made from real files, for ``vigil bench chaos inputs``.

Every case starts from a real photo (LFW, the reference photos) or a real clip (the Hamilton clip, an
Intel webcam clip) and is broken in one way a hostile or unlucky upload could be: cut short, bit-flipped,
emptied, replaced by other content under an image name, given a header that declares a gigantic picture,
or turned into a rarer but legal variant (1×1, grey, 16-bit, alpha, CMYK, palette, BMP, WebP). The
generator is deterministic: the same seed gives the same bytes, so a crash it finds can be replayed.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from PIL import Image

CLIP = Path("video") / "ageitgey_short_hamilton_clip.mp4"
WEBCAM_CLIP = Path("video") / "intel" / "asl_gestures" / "again.mkv"
REFS = ("ageitgey_obama.jpg", "ageitgey_biden.jpg", "ageitgey_lin-manuel-miranda.png")
LFW_PEOPLE = ("George_W_Bush", "Colin_Powell", "Tony_Blair", "Serena_Williams", "Hugo_Chavez")
CLIP_PACKETS = 12  # video packets kept in the short clips: a valid one is processed in about a second
BOMB_SIDE = 100_000  # declared by the bomb headers: 10 gigapixels
REAL_BOMB_SIDE = 20_000  # a genuine 400 MP black picture that compresses to ~50 KB


class Target(StrEnum):
    """Which upload routes a case is meant for."""

    IMAGE = "image"  # enrolment and search by photo
    VIDEO = "video"  # footage upload


@dataclass(frozen=True, slots=True)
class ChaosInput:
    """One generated upload.

    Attributes:
        kind: what was done to the real file (``truncated_jpeg``, ``png_bomb_header``...).
        target: the routes it is sent to.
        filename: the name it is uploaded under (its extension may lie on purpose).
        data: the bytes.
        may_succeed: the content may still be a usable picture or video (a flip in pixel data, a legal
            variant), so a 2xx is a right answer; when False only a 4xx is.
    """

    kind: str
    target: Target
    filename: str
    data: bytes
    may_succeed: bool


@dataclass(frozen=True, slots=True)
class Originals:
    """The real files the cases are made from, read once."""

    jpegs: tuple[bytes, ...]
    pngs: tuple[bytes, ...]
    clip_mp4: bytes
    clip_mkv: bytes
    clip_ts: bytes
    audio_only_mp4: bytes
    real_bomb_png: bytes
    bomb_header_png: bytes


def load_originals(data_dir: Path) -> Originals:
    """Read the photos and cut the short clips from the shared test data (``$VIGIL_TEST_DATA``).

    Raises:
        FileNotFoundError: a needed file is missing from ``data_dir``.
    """
    lfw = data_dir / "lfw" / "images"
    jpegs = [(lfw / p / f"{p}_{i:04d}.jpg").read_bytes() for p in LFW_PEOPLE for i in (1, 2)]
    jpegs += [(data_dir / "refs" / r).read_bytes() for r in REFS if r.endswith(".jpg")]
    pngs = [(data_dir / "refs" / r).read_bytes() for r in REFS if r.endswith(".png")]
    pngs += [_reencode(j, "PNG") for j in jpegs[:4]]
    clip, webcam = data_dir / CLIP, data_dir / WEBCAM_CLIP
    return Originals(
        jpegs=tuple(jpegs), pngs=tuple(pngs), clip_mp4=remux(clip, "mp4"), clip_mkv=remux(webcam, "matroska"),
        clip_ts=remux(clip, "mpegts"), audio_only_mp4=remux(clip, "mp4", video=False),
        real_bomb_png=png_bomb(REAL_BOMB_SIDE, REAL_BOMB_SIDE),
        bomb_header_png=png_bomb(BOMB_SIDE, BOMB_SIDE, rows=4),
    )  # fmt: skip


def remux(path: Path, fmt: str, *, video: bool = True, packets: int = CLIP_PACKETS) -> bytes:
    """The first ``packets`` packets of ``path``'s video stream (or its audio stream, when ``video`` is
    False) copied without re-encoding into a new ``fmt`` container: a short real clip."""
    out_buf = io.BytesIO()
    with av.open(str(path)) as src, av.open(out_buf, "w", format=fmt) as out:
        stream = src.streams.video[0] if video else src.streams.audio[0]
        dst = out.add_stream_from_template(stream)
        kept = 0
        for packet in src.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            packet.stream = dst
            out.mux(packet)
            kept += 1
            if kept >= packets:
                break
    return out_buf.getvalue()


@lru_cache(maxsize=256)
def _reencode(data: bytes, fmt: str, mode: str | None = None, size: tuple[int, int] | None = None) -> bytes:
    opened = Image.open(io.BytesIO(data))
    image: Image.Image = opened.convert(mode) if mode else opened.convert("RGB")
    if size is not None:
        image = image.resize(size)
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int, height: int, *, rows: int | None = None) -> bytes:
    """A 1-bit grey PNG declaring ``width`` × ``height``, whose IDAT holds ``rows`` black rows (all by
    default: a genuine picture; a few: a header that lies about the size). CRCs are right."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes((width + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows))
    idat += compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def jpeg_declaring(data: bytes, width: int, height: int) -> bytes:
    """A JPEG whose start-of-frame header declares ``width`` × ``height``; the scan data is unchanged."""
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], struct.unpack_from(">H", data, pos + 2)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            patched = bytearray(data)
            struct.pack_into(">HH", patched, pos + 5, height, width)
            return bytes(patched)
        pos += 2 + length
    raise ValueError("no start-of-frame marker in the JPEG")


def webp_declaring(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP header declaring a ``width`` × ``height`` canvas, with nothing after it."""
    vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


@lru_cache(maxsize=64)
def animated_gif(photo: bytes) -> bytes:
    """A three-frame animated GIF of a real photo (rotated frames)."""
    base = Image.open(io.BytesIO(photo)).convert("RGB").resize((96, 96))
    frames = [base.rotate(angle) for angle in (0, 15, 30)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


@lru_cache(maxsize=64)
def grey16_png(photo: bytes) -> bytes:
    """A 16-bit greyscale PNG of a real photo."""
    grey = np.asarray(Image.open(io.BytesIO(photo)).convert("L"), dtype=np.uint16) * 257
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "PNG")
    return buf.getvalue()


@lru_cache(maxsize=64)
def alpha_png(photo: bytes) -> bytes:
    """An RGBA PNG of a real photo with a transparent band across its lower part."""
    rgba = np.array(Image.open(io.BytesIO(photo)).convert("RGBA"))
    top = rgba.shape[0] * 2 // 3
    rgba[top : top + rgba.shape[0] // 4, :, 3] = 0
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")
    return buf.getvalue()


def truncated(data: bytes, rng: random.Random) -> bytes:
    """``data`` cut at a random point (at least one byte kept, at least one lost)."""
    return data[: rng.randrange(1, len(data))]


def bit_flipped(data: bytes, rng: random.Random, *, skip: int = 0) -> bytes:
    """``data`` with 1-32 random bits flipped after its first ``skip`` bytes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 32)):
        pos = rng.randrange(skip, len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


TEXTS = {
    "text": b"these are not the pixels you are looking for\n" * 20,
    "html": b"<!doctype html><html><head><title>photo</title></head><body><img src=x></body></html>\n",
    "pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>',
}

Builder = Callable[[Originals, random.Random], tuple[str, bytes]]


def _jpeg(o: Originals, rng: random.Random) -> bytes:
    return rng.choice(o.jpegs)


def _png(o: Originals, rng: random.Random) -> bytes:
    return rng.choice(o.pngs)


# kind -> (builder: (filename, bytes), may the result be a usable image?)
IMAGE_KINDS: dict[str, tuple[Builder, bool]] = {
    "valid_jpeg": (lambda o, r: ("photo.jpg", _jpeg(o, r)), True),
    "valid_png": (lambda o, r: ("photo.png", _png(o, r)), True),
    "truncated_jpeg": (lambda o, r: ("cut.jpg", truncated(_jpeg(o, r), r)), True),
    "truncated_png": (lambda o, r: ("cut.png", truncated(_png(o, r), r)), True),
    "bitflip_jpeg": (lambda o, r: ("flip.jpg", bit_flipped(_jpeg(o, r), r)), True),
    "bitflip_png": (lambda o, r: ("flip.png", bit_flipped(_png(o, r), r)), True),
    "zero_bytes": (lambda o, r: ("empty.jpg", b""), False),
    "header_only_png": (lambda o, r: ("magic.png", b"\x89PNG\r\n\x1a\n"), False),
    "header_only_jpeg": (lambda o, r: ("magic.jpg", b"\xff\xd8\xff\xe0"), False),
    "random_bytes": (
        lambda o, r: (r.choice(("noise.jpg", "noise.png")), r.randbytes(r.randint(1, 65536))),
        False,
    ),
    "text_as_jpg": (lambda o, r: ("notes.jpg", TEXTS["text"]), False),
    "html_as_jpg": (lambda o, r: ("page.jpg", TEXTS["html"]), False),
    "pdf_as_jpg": (lambda o, r: ("scan.jpg", TEXTS["pdf"]), False),
    "svg_as_png": (lambda o, r: ("vector.png", TEXTS["svg"]), False),
    "mp4_as_jpg": (lambda o, r: ("still.jpg", o.clip_mp4), False),
    "png_bomb_header": (lambda o, r: ("bomb.png", o.bomb_header_png), False),
    "png_bomb_real": (lambda o, r: ("bomb.png", o.real_bomb_png), False),
    "jpeg_bomb_header": (lambda o, r: ("bomb.jpg", jpeg_declaring(_jpeg(o, r), 65_500, 65_500)), False),
    "webp_bomb_header": (lambda o, r: ("bomb.webp", webp_declaring(16_384, 16_384)), False),
    "jpeg_zero_size": (lambda o, r: ("zero.jpg", jpeg_declaring(_jpeg(o, r), 0, 0)), False),
    "tiny_1x1_png": (lambda o, r: ("dot.png", _reencode(_png(o, r), "PNG", size=(1, 1))), True),
    "tiny_1x1_jpeg": (lambda o, r: ("dot.jpg", _reencode(_jpeg(o, r), "JPEG", size=(1, 1))), True),
    "grey_jpeg": (lambda o, r: ("grey.jpg", _reencode(_jpeg(o, r), "JPEG", "L")), True),
    "grey16_png": (lambda o, r: ("grey16.png", grey16_png(_jpeg(o, r))), True),
    "alpha_png": (lambda o, r: ("alpha.png", alpha_png(_jpeg(o, r))), True),
    "palette_png": (lambda o, r: ("palette.png", _reencode(_jpeg(o, r), "PNG", "P")), True),
    "cmyk_jpeg": (lambda o, r: ("cmyk.jpg", _reencode(_jpeg(o, r), "JPEG", "CMYK")), True),
    "bmp": (lambda o, r: ("photo.bmp", _reencode(_jpeg(o, r), "BMP")), True),
    "webp": (lambda o, r: ("photo.webp", _reencode(_jpeg(o, r), "WEBP")), True),
    "bitflip_webp": (lambda o, r: ("flip.webp", bit_flipped(_reencode(_jpeg(o, r), "WEBP"), r)), True),
    "tiff": (lambda o, r: ("photo.jpg", _reencode(_jpeg(o, r), "TIFF")), False),
    "animated_gif": (lambda o, r: ("moving.gif", animated_gif(_jpeg(o, r))), False),
}

VIDEO_KINDS: dict[str, tuple[Builder, bool]] = {
    "valid_mp4": (lambda o, r: ("clip.mp4", o.clip_mp4), True),
    "valid_mkv": (lambda o, r: ("clip.mkv", o.clip_mkv), True),
    "truncated_mp4": (lambda o, r: ("cut.mp4", truncated(o.clip_mp4, r)), True),
    "bitflip_mp4": (lambda o, r: ("flip.mp4", bit_flipped(o.clip_mp4, r)), True),
    "truncated_mkv": (lambda o, r: ("cut.mkv", truncated(o.clip_mkv, r)), True),
    "bitflip_mkv": (lambda o, r: ("flip.mkv", bit_flipped(o.clip_mkv, r)), True),
    "truncated_ts": (lambda o, r: ("cut.ts", truncated(o.clip_ts, r)), True),
    "bitflip_ts": (lambda o, r: ("flip.ts", bit_flipped(o.clip_ts, r)), True),
    "mp4_no_video": (lambda o, r: ("sound.mp4", o.audio_only_mp4), False),
    "mp4_header_only": (lambda o, r: ("head.mp4", o.clip_mp4[:32]), False),
    "zero_bytes_mp4": (lambda o, r: ("empty.mp4", b""), False),
    "random_bytes_mp4": (lambda o, r: ("noise.mp4", r.randbytes(r.randint(1, 65536))), False),
    "text_as_mp4": (lambda o, r: ("notes.mp4", TEXTS["text"]), False),
    # FFmpeg probes content, not names: it reads a JPEG as a one-frame video, which is harmless.
    "jpeg_as_mp4": (lambda o, r: ("photo.mp4", _jpeg(o, r)), True),
    "gif_as_footage": (lambda o, r: ("moving.gif", animated_gif(_jpeg(o, r))), False),
    "jpeg_as_footage": (lambda o, r: ("photo.jpg", _jpeg(o, r)), False),
}

VIDEO_SHARE = 0.12  # of the cases: footage jobs run the detector on every frame, so they are the slow ones


def all_kinds() -> frozenset[str]:
    """Every kind the generator makes."""
    return frozenset(IMAGE_KINDS) | frozenset(VIDEO_KINDS)


def generate(originals: Originals, count: int, seed: int) -> Iterator[ChaosInput]:
    """``count`` cases, deterministic in ``seed``: every kind at least once (when ``count`` allows), then
    kinds drawn at random (videos for about ``VIDEO_SHARE`` of them). Made one at a time, so memory stays
    flat whatever the count."""
    rng = random.Random(seed)
    first = [(k, Target.IMAGE) for k in IMAGE_KINDS] + [(k, Target.VIDEO) for k in VIDEO_KINDS]
    plan = first[:count]
    while len(plan) < count:
        video = rng.random() < VIDEO_SHARE
        plan.append(
            (rng.choice(list(VIDEO_KINDS if video else IMAGE_KINDS)), Target.VIDEO if video else Target.IMAGE)
        )
    for kind, target in plan:
        yield _make(kind, target, originals, rng)


def _make(kind: str, target: Target, originals: Originals, rng: random.Random) -> ChaosInput:
    builder, may_succeed = (IMAGE_KINDS if target is Target.IMAGE else VIDEO_KINDS)[kind]
    filename, data = builder(originals, rng)
    return ChaosInput(kind, target, filename, data, may_succeed)
