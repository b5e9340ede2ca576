"""Evidence archives: a zip of files, a manifest naming each with its SHA-256 and size, and an Ed25519
signature of the manifest, checked by anyone who holds the public key.

Layout of an archive::

    manifest.json      what was exported, by whom, when, why; every file with its sha256 and size
    manifest.sig       the Ed25519 signature of manifest.json's exact bytes (base64)
    public_key.pem     the key that signed it (its fingerprint is in the manifest too)
    items/...          best shots, enrolled photos, the video segment (see vigil.services.evidence)

The signing key lives in the data dir (``evidence.key``, created on first use, mode 0600); the public key
is written into every archive so a third party can check one without Vigil. The archive's own copy proves
integrity, not origin: to prove it came from this site, compare the fingerprint (or pass ``trusted``) with
the one the site publishes (``vigil evidence public-key``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.errors import BadInput

FORMAT = "vigil-evidence/1"
MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "public_key.pem"
RESERVED = frozenset({MANIFEST, SIGNATURE, PUBLIC_KEY})
MAX_MANIFEST_BYTES = 64 << 20


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The evidence-signing key at ``path`` (PKCS#8 PEM), created (mode 0600) when missing.

    Raises:
        BadInput: the file exists but is not an Ed25519 private key (it is never overwritten).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile: use theirs
            return load_or_create_signing_key(path)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        return key
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise BadInput(path, "is not a readable private key (the evidence-signing key)") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise BadInput(path, "is not an Ed25519 private key (the evidence-signing key)")
    return loaded


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the raw 32-byte public key: what a site publishes for its archives."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1, default=str).encode("utf-8")


@dataclass
class ArchiveWriter:
    """Collects the files of one archive; :meth:`finish` writes the manifest, signs it and zips all."""

    files: dict[str, bytes] = field(default_factory=dict)

    def add(self, name: str, data: bytes) -> str:
        """Add a file under ``name`` (a relative POSIX path); returns the name."""
        parts = name.split("/")
        if name in RESERVED or name.startswith("/") or any(p in {"", ".", ".."} for p in parts):
            raise BadInput(name, "not a valid file name inside an evidence archive")
        if name in self.files:
            raise BadInput(name, "is already in the archive")
        self.files[name] = data
        return name

    def listing(self) -> list[dict[str, object]]:
        """Every file with its sha256 and size, by name."""
        return [
            {"name": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for n, d in sorted(self.files.items())
        ]

    def finish(self, manifest: Mapping[str, Any], key: Ed25519PrivateKey) -> tuple[bytes, str]:
        """The zip's bytes and the manifest's sha256. ``manifest`` gets ``format``, ``files`` and
        ``signing_key`` added (they may not be in it)."""
        clash = {"format", "files", "signing_key"} & set(manifest)
        if clash:
            raise ValueError(f"the manifest may not set {sorted(clash)}")
        body = {
            **manifest,
            "format": FORMAT,
            "files": self.listing(),
            "signing_key": {"algorithm": "Ed25519", "fingerprint": fingerprint(key.public_key())},
        }
        raw = canonical_json(body)
        signature = base64.b64encode(key.sign(raw)) + b"\n"
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(MANIFEST, raw)
            z.writestr(SIGNATURE, signature)
            z.writestr(PUBLIC_KEY, public_pem(key.public_key()))
            for name, data in sorted(self.files.items()):
                z.writestr(name, data)
        return out.getvalue(), hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Verification:
    """What checking an archive found: ``ok`` only when the signature and every file hold."""

    problems: tuple[str, ...]
    fingerprint: str | None
    files: int
    manifest: Mapping[str, Any] | None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_archive(path: Path, trusted: Ed25519PublicKey | None = None) -> Verification:
    """Check an archive's signature (against ``trusted`` when given, else the key it carries) and every
    file's size and sha256; files that are missing or not in the manifest are problems too."""
    try:
        with zipfile.ZipFile(path) as z:
            return _verify(z, trusted)
    except (zipfile.BadZipFile, OSError) as exc:
        return Verification((f"not a readable zip archive: {exc}",), None, 0, None)


def _read(z: zipfile.ZipFile, name: str, limit: int = MAX_MANIFEST_BYTES) -> bytes | None:
    try:
        info = z.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        return None
    return z.read(info)


def _carried_key(pem: bytes) -> Ed25519PublicKey | str:
    """The public key an archive carries, or what is wrong with it."""
    try:
        loaded = serialization.load_pem_public_key(pem)
    except ValueError:
        return f"{PUBLIC_KEY} is not a public key"
    if not isinstance(loaded, Ed25519PublicKey):
        return f"{PUBLIC_KEY} is not an Ed25519 key"
    return loaded


def _signed_manifest(
    z: zipfile.ZipFile, trusted: Ed25519PublicKey | None
) -> tuple[list[str], str | None, dict[str, Any] | None]:
    raw, sig, pem = _read(z, MANIFEST), _read(z, SIGNATURE, 4096), _read(z, PUBLIC_KEY, 4096)
    if raw is None or sig is None or (pem is None and trusted is None):
        return [f"{MANIFEST}, {SIGNATURE} or {PUBLIC_KEY} is missing"], None, None
    key = trusted if trusted is not None else _carried_key(pem or b"")
    if isinstance(key, str):
        return [key], None, None
    try:
        key.verify(base64.b64decode(sig.strip(), validate=True), raw)
    except (InvalidSignature, ValueError):
        return (
            [f"the signature does not match {MANIFEST} (it was altered, or signed by another key)"],
            None,
            None,
        )
    try:
        manifest = json.loads(raw)
    except ValueError:
        return [f"{MANIFEST} is not JSON"], fingerprint(key), None
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"unknown format {manifest.get('format')!r} (expected {FORMAT})")
    if manifest.get("signing_key", {}).get("fingerprint") != fingerprint(key):
        problems.append("the manifest names another signing key than the one that signed it")
    return problems, fingerprint(key), manifest


def _verify(z: zipfile.ZipFile, trusted: Ed25519PublicKey | None) -> Verification:
    problems, fp, manifest = _signed_manifest(z, trusted)
    if manifest is None:
        return Verification(tuple(problems), fp, 0, None)
    listed: dict[str, dict[str, Any]] = {}
    for entry in manifest.get("files", []):
        listed[str(entry.get("name"))] = entry
    present = {i.filename: i for i in z.infolist() if not i.is_dir()}
    for name, entry in sorted(listed.items()):
        info = present.get(name)
        if info is None:
            problems.append(f"{name}: listed in the manifest but missing from the archive")
            continue
        if info.file_size != entry.get("size"):
            problems.append(f"{name}: {info.file_size} bytes, the manifest says {entry.get('size')}")
            continue
        digest = hashlib.sha256()
        with z.open(info) as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != entry.get("sha256"):
            problems.append(f"{name}: its sha256 does not match the manifest (the file was altered)")
    for name in sorted(set(present) - set(listed) - RESERVED):
        problems.append(f"{name}: in the archive but not in the manifest (added afterwards)")
    return Verification(tuple(problems), fp, len(listed), manifest)
