"""Guess what a file holds from its first bytes, to turn "invalid data" into a reason a person can act on."""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES = 64

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_VIDEO_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (b"FLV", "FLV"),
    (b"\x00\x00\x01\xba", "MPEG-PS"),
)


def sniff(head: bytes) -> str | None:
    """Name the kind of content that starts with ``head`` (its first bytes), or None if unrecognised.

    The answer is a short phrase for messages: ``"JPEG image"``, ``"MP4/MOV video"``, ``"text"``, ...

    Example:
        >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n...")
        'PNG image'
    """
    if not head:
        return None
    for magic, name in _IMAGE_MAGIC:
        if head.startswith(magic):
            return f"{name} image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP image"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI video"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "HEIF/AVIF image" if brand in {b"heic", b"heix", b"mif1", b"avif"} else "MP4/MOV video"
    for magic, name in _VIDEO_MAGIC:
        if head.startswith(magic):
            return f"{name} video"
    if _looks_like_text(head):
        return "text"
    return None


def sniff_file(path: Path) -> str | None:
    """:func:`sniff` applied to the first bytes of a file (None if it cannot be read)."""
    try:
        with path.open("rb") as f:
            return sniff(f.read(HEAD_BYTES))
    except OSError:
        return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a multi-byte character cut at the end
            return False
        text = head[: exc.start].decode("utf-8")
    return all(c.isprintable() or c in "\t\r\n\f" for c in text)
