"""Model files: where Vigil looks for them, how it checks them, how it downloads them.

YuNet's weights are not on PyPI. They are looked for, in order, in the configured model dir,
in ``$VIGIL_MODEL_DIR`` and in the user cache (``platformdirs.user_cache_dir("vigil")/models``);
a file only counts when its sha256 matches. ``vigil models fetch`` downloads them from OpenCV Zoo
with :func:`fetch_model`. dlib's landmark and embedding models ship inside the PyPI package
``face_recognition_models`` and are located with :func:`dlib_model_paths`.

Example:
    >>> path = find_model(YUNET, config.model_dir)  # doctest: +SKIP
    >>> detector = YuNetDetector(path, config.detector) if path else HogDetector(...)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx
import platformdirs

from vigil.errors import ModelError

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "VIGIL_MODEL_DIR"
"""Environment variable naming folders of model files, separated like PATH (searched after the configured
one)."""

MAX_SIZE_FACTOR = 10
"""A download is aborted once it passes this many times the expected size."""

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """A model file Vigil knows by name, size and hash.

    Attributes:
        name: Short human name ("YuNet").
        filename: File name looked for in each model folder.
        sha256: Expected sha256 of the file, lowercase hex.
        url: Where ``vigil models fetch`` downloads it from by default (None: not downloadable; the file
            comes inside a registry package, see the catalogue).
        size_bytes: Expected size of the file, in bytes.
        license: License of the weights.
    """

    name: str
    filename: str
    sha256: str
    url: str | None
    size_bytes: int
    license: str


YUNET = ModelSpec(
    name="YuNet",
    filename="face_detection_yunet_2023mar.onnx",
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    url=(
        "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
        "face_detection_yunet_2023mar.onnx"
    ),
    size_bytes=232_589,
    license="MIT",
)
"""YuNet face detector (OpenCV Zoo, 2023mar), boxes plus 5 landmarks."""


@dataclass(frozen=True)
class DlibModels:
    """Paths of dlib's model files shipped by the ``face_recognition_models`` package.

    Attributes:
        shape_predictor_5: dlib's 5-point landmark model (used to cut aligned face chips).
        resnet: dlib's ResNet face embedder (128-d).
    """

    shape_predictor_5: Path
    resnet: Path


@dataclass
class _ProcessState:
    """What this process remembers about model files: verified hashes and warnings already given."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    hashes: dict[tuple[str, int, int], str] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)

    def warn_once(self, key: str) -> bool:
        """Return True the first time ``key`` is seen in this process, False after."""
        with self.lock:
            if key in self.warned:
                return False
            self.warned.add(key)
            return True


_STATE = _ProcessState()


def file_sha256(path: Path) -> str:
    """Hash a file in chunks, remembering the result per (path, mtime, size).

    Args:
        path: The file to hash.

    Returns:
        The sha256 of the file's content, lowercase hex.

    Raises:
        OSError: The file cannot be read.
    """
    resolved = path.resolve()
    st = resolved.stat()
    key = (str(resolved), st.st_mtime_ns, st.st_size)
    with _STATE.lock:
        cached = _STATE.hashes.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with resolved.open("rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    value = digest.hexdigest()
    with _STATE.lock:
        _STATE.hashes[key] = value
    return value


def user_model_dir() -> Path:
    """The per-user cache folder for model files: ``user_cache_dir("vigil")/models``."""
    return Path(platformdirs.user_cache_dir("vigil")) / "models"


def model_search_path(configured: Path | None) -> list[Path]:
    """The folders searched for model files, first match wins.

    Order: ``configured`` (``VigilConfig.model_dir``), then the folders of ``$VIGIL_MODEL_DIR`` (separated
    by ``os.pathsep``), then
    :func:`user_model_dir`. The environment is read on each call; unset entries and
    repeats are left out.

    Args:
        configured: The configured model folder, or None.

    Returns:
        The folders in search order (they need not exist).
    """
    candidates: list[Path] = []
    if configured is not None:
        candidates.append(configured.expanduser())
    for entry in os.environ.get(MODEL_DIR_ENV, "").split(os.pathsep):
        if entry.strip():
            candidates.append(Path(entry.strip()).expanduser())
    candidates.append(user_model_dir())
    unique: list[Path] = []
    for path in candidates:
        if path not in unique:
            unique.append(path)
    return unique


def find_model(spec: ModelSpec, configured: Path | None) -> Path | None:
    """Find a model file whose sha256 matches, along :func:`model_search_path`.

    A file with the wrong hash is logged (path, expected and actual hash) and skipped.
    When no folder holds a valid file a warning is logged, once per process per model;
    the caller decides what to do instead (e.g. fall back to HOG).

    Args:
        spec: The model to find.
        configured: The configured model folder (``VigilConfig.model_dir``), or None.

    Returns:
        The path of the first valid file, or None.
    """
    search = model_search_path(configured)
    for folder in search:
        candidate = folder / spec.filename
        if not candidate.is_file():
            continue
        try:
            actual = file_sha256(candidate)
        except OSError as exc:
            log.warning("%s: cannot read %s model file (%s); skipped", candidate, spec.name, exc)
            continue
        if actual == spec.sha256:
            log.debug("%s model found at %s", spec.name, candidate)
            return candidate
        if _STATE.warn_once(f"hash:{candidate.resolve()}:{actual}"):
            log.warning(
                "%s: sha256 mismatch for %s model, expected %s, got %s; skipped",
                candidate,
                spec.name,
                spec.sha256,
                actual,
            )
    if _STATE.warn_once(f"missing:{spec.name}:{spec.filename}"):
        log.warning(
            "%s model %s not found (searched %s); run `vigil models fetch` to download it",
            spec.name,
            spec.filename,
            ", ".join(str(p) for p in search),
        )
    return None


def fetch_model(
    spec: ModelSpec,
    dest_dir: Path,
    url: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    timeout_s: float = 60,
) -> Path:
    """Download a model file into ``dest_dir``, verified, atomically.

    The body is streamed into a temporary file in ``dest_dir``; its size and sha256 are
    checked before it is renamed into place, so ``dest_dir`` never holds a partial or
    wrong file. A valid file already there is not downloaded again.

    Args:
        spec: The model to download.
        dest_dir: The folder to put it in (created if needed).
        url: Where to download from; ``spec.url`` by default.
        progress: Called as ``progress(bytes_received, total_bytes_or_None)`` after each chunk.
        timeout_s: Time-out for connecting and for each read, seconds.

    Returns:
        The path of the verified file.

    Raises:
        ModelError: The download failed (HTTP error, connection, time-out, too large) or the
            file does not match the expected size and hash; nothing is left behind.
    """
    source = url or spec.url
    if source is None:
        raise ModelError(f"{spec.name} has no download address: copy {spec.filename} into a model folder")
    target = dest_dir / spec.filename
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{dest_dir}: cannot create the model folder ({exc.strerror})") from exc
    if target.is_file():
        try:
            if file_sha256(target) == spec.sha256:
                log.info("%s model already present and verified at %s", spec.name, target)
                return target
        except OSError:
            pass
        log.warning("%s: existing file does not match the expected sha256; downloading again", target)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{spec.filename}.", suffix=".part")
    except OSError as exc:
        raise ModelError(f"{dest_dir}: cannot write a temporary file ({exc.strerror})") from exc
    tmp = Path(tmp_name)
    done = False
    try:
        with os.fdopen(fd, "wb") as out:
            received, actual = _download(spec, source, out, progress, timeout_s)
            out.flush()
            os.fsync(out.fileno())
        if received != spec.size_bytes or actual != spec.sha256:
            raise ModelError(
                f"{source}: sha256 mismatch for {spec.name}, expected {spec.sha256} "
                f"({spec.size_bytes} bytes), got {actual} ({received} bytes); file discarded"
            )
        tmp.chmod(0o644)
        tmp.replace(target)
        done = True
    except OSError as exc:
        raise ModelError(f"{target}: cannot write the model file ({exc})") from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    log.info("%s model downloaded from %s to %s (sha256 verified)", spec.name, source, target)
    return target


def _download(
    spec: ModelSpec,
    source: str,
    out: BinaryIO,
    progress: Callable[[int, int | None], None] | None,
    timeout_s: float,
) -> tuple[int, str]:
    """Stream ``source`` into ``out``; return the byte count and sha256 of what was received."""
    limit = spec.size_bytes * MAX_SIZE_FACTOR
    digest = hashlib.sha256()
    received = 0
    try:
        with (
            httpx.Client(
                timeout=timeout_s, follow_redirects=True, headers={"Accept-Encoding": "identity"}
            ) as client,
            client.stream("GET", source) as response,
        ):
            if response.status_code != httpx.codes.OK:
                raise ModelError(
                    f"{source}: download failed, HTTP {response.status_code} {response.reason_phrase}"
                )
            total = _content_length(response)
            if total is not None and total > limit:
                raise ModelError(
                    f"{source}: refusing a {total}-byte response for {spec.name} "
                    f"(expected {spec.size_bytes} bytes)"
                )
            for chunk in response.iter_bytes(_CHUNK_BYTES):
                received += len(chunk)
                if received > limit:
                    raise ModelError(
                        f"{source}: download aborted past {limit} bytes "
                        f"(expected {spec.size_bytes} bytes for {spec.name})"
                    )
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(received, total)
    except httpx.TimeoutException as exc:
        raise ModelError(
            f"{source}: download timed out after {timeout_s:g} s ({type(exc).__name__})"
        ) from exc
    except httpx.HTTPError as exc:
        raise ModelError(f"{source}: download failed ({type(exc).__name__}: {exc})") from exc
    return received, digest.hexdigest()


def _content_length(response: httpx.Response) -> int | None:
    """The announced body size, or None when absent, invalid or compressed."""
    if response.headers.get("content-encoding", "identity") != "identity":
        return None
    try:
        value = int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None
    return value if value >= 0 else None


def dlib_model_paths() -> DlibModels:
    """Locate dlib's model files inside the installed ``face_recognition_models`` package.

    The package is located, not imported (its ``__init__`` needs ``pkg_resources``).

    Returns:
        The paths of the 5-point landmark model and the ResNet embedder.

    Raises:
        ModelError: The package is not installed, or a file is missing from it.
    """
    advice = "install it with `pip install face_recognition_models`"
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the face_recognition_models package is not installed: {advice}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    models = DlibModels(
        shape_predictor_5=folder / "shape_predictor_5_face_landmarks.dat",
        resnet=folder / "dlib_face_recognition_resnet_model_v1.dat",
    )
    for path in (models.shape_predictor_5, models.resnet):
        if not path.is_file():
            raise ModelError(
                f"{path}: missing from the face_recognition_models package; reinstall it with "
                "`pip install --force-reinstall face_recognition_models`"
            )
    return models


def install_model(spec: ModelSpec, sources: list[Path], dest_dir: Path) -> Path | None:
    """Copy ``spec``'s file from the first of ``sources`` holding a verified copy into ``dest_dir``.

    The copy is written to a temporary file, checked again and renamed into place, so ``dest_dir`` never
    holds a partial file. A verified file already in ``dest_dir`` is kept as it is.

    Returns:
        The installed (or already present) file, or None when no source holds a valid copy.

    Raises:
        ModelError: ``dest_dir`` cannot be written.
    """
    target = dest_dir / spec.filename
    with contextlib.suppress(OSError):
        if target.is_file() and file_sha256(target) == spec.sha256:
            return target
    source = next((p for p in (s / spec.filename for s in sources) if _is_valid(p, spec)), None)
    if source is None:
        return None
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{spec.filename}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                while chunk := src.read(_CHUNK_BYTES):
                    out.write(chunk)
            if file_sha256(tmp) != spec.sha256:
                raise ModelError(f"{source}: changed while being copied; nothing installed")
            tmp.chmod(0o644)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ModelError(f"{dest_dir}: cannot install {spec.filename} ({exc})") from exc
    log.info("%s model installed from %s to %s (sha256 verified)", spec.name, source, target)
    return target


def _is_valid(path: Path, spec: ModelSpec) -> bool:
    try:
        return path.is_file() and file_sha256(path) == spec.sha256
    except OSError:
        return False
