"""face_recognition's per-frame loop, written with dlib directly: the baseline Vigil is measured against.

The baseline, :class:`FaceRecognitionLoop`, is the loop of face_recognition's README and examples
(``facerec_from_video_file.py``, ``facerec_from_webcam.py``), written with dlib directly because
face_recognition itself needs dlib built from source. Each call stands for exactly one face_recognition
call with its default arguments (face_recognition 1.3.0, ``api.py``):

=====================================================  ==================================================
here                                                   face_recognition
=====================================================  ==================================================
``_rgb(frame.image)``                                 ``rgb_frame = frame[:, :, ::-1]`` (made contiguous,
                                                       as dlib 19.24+ requires)
``self._detector(rgb, 1)`` then :func:`trim_box`       ``face_locations(rgb_frame)``: ``model="hog"``,
                                                       ``number_of_times_to_upsample=1``; boxes clipped
                                                       to the image (``_trim_css_to_bounds``)
``self._landmarks(rgb, rect)``                         ``face_encodings(rgb_frame, face_locations)``,
                                                       first half: ``model="small"``, the 5-point
                                                       ``pose_predictor_5_point`` on each box
``self._encoder.compute_face_descriptor(rgb, s, 1)``   ``face_encodings`` second half: ``num_jitters=1``
``np.linalg.norm(known - v, axis=1)``                  ``face_distance(known_face_encodings, v)``
``distances[best] <= tolerance`` (0.6)                 ``compare_faces(known, v)`` (``tolerance=0.6``)
                                                       and the README's ``best_match_index =
                                                       np.argmin(face_distances)``: the nearest known
                                                       face if it matches, else "Unknown"
:meth:`FaceRecognitionLoop.encode_photo`               ``face_encodings(load_image_file(photo))[0]``:
                                                       HOG (upsample 1) on the photo, its first face
                                                       (boxes not clipped, as there)
=====================================================  ==================================================

Differences, all in the baseline's favour or neutral: photos are read with Vigil's
:func:`~vigil.ingest.load_image` (Pillow, as ``load_image_file``, plus size checks and EXIF rotation);
a photo without a face is skipped where ``face_encodings(...)[0]`` would raise ``IndexError``. The
Hamilton example script uses ``tolerance=0.50``; the README's default, 0.6, is used here.
"""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import numpy.typing as npt

from vigil.config import IngestConfig
from vigil.errors import BadInput
from vigil.ingest import load_image
from vigil.match.folder import list_photos
from vigil.models import DlibModels
from vigil.types import Frame, Image

Encodings = npt.NDArray[np.float64]
"""face_recognition's encodings: float64 rows of 128 (``np.array`` of dlib's vectors)."""

TOLERANCE = 0.6
"""face_recognition's default ``compare_faces`` tolerance (Euclidean distance between encodings)."""


class FaceRecognitionLoop:
    """face_recognition's per-frame loop: HOG on every frame, every face embedded and matched.

    Args:
        models: dlib's 5-point landmark model and ResNet embedder (:func:`~vigil.models.dlib_model_paths`).
        tolerance: the largest distance still counted as a match (face_recognition's default 0.6).
    """

    upsample = 1
    """``face_locations(number_of_times_to_upsample=1)``."""
    num_jitters = 1
    """``face_encodings(num_jitters=1)``."""

    def __init__(self, models: DlibModels, tolerance: float = TOLERANCE) -> None:
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(models.shape_predictor_5))
        self._encoder = dlib.face_recognition_model_v1(str(models.resnet))
        self.tolerance = tolerance
        self.names: list[str] = []
        self._known = np.zeros((0, 128), np.float64)

    def encodings(self, rgb: Image, *, trim: bool = True) -> Encodings:
        """``face_encodings(rgb, face_locations(rgb))``: one 128-d row per face found, in dlib's order.

        With ``trim=False`` the boxes are used as dlib returns them: ``face_encodings(rgb)``.
        """
        rects = list(self._detector(rgb, self.upsample))
        if trim:
            rects = [trim_box(r, rgb.shape[1], rgb.shape[0]) for r in rects]
        if not rects:
            return np.zeros((0, 128), np.float64)
        shapes = [self._landmarks(rgb, r) for r in rects]
        return np.array(
            [self._encoder.compute_face_descriptor(rgb, s, self.num_jitters) for s in shapes], np.float64
        )

    def encode_photo(self, rgb: Image) -> Encodings | None:
        """``face_encodings(load_image_file(photo))[0]``; None when no face is found."""
        found = self.encodings(rgb, trim=False)
        return found[0] if len(found) else None

    def add(self, identity: str, encoding: Encodings) -> None:
        """Append one known encoding (``known_face_encodings.append``, ``known_face_names.append``)."""
        self.names.append(identity)
        self._known = np.vstack([self._known, encoding[None].astype(np.float64)])

    def enrol_folder(self, root: Path, ingest: IngestConfig) -> list[BadInput]:
        """One known encoding per photo of a ``<identity>/<photo>`` folder; returns what was skipped."""
        photos, problems = list_photos(root)
        for identity, path in photos:
            try:
                rgb = _rgb(load_image(path, ingest))
            except BadInput as exc:
                problems.append(exc)
                continue
            encoding = self.encode_photo(rgb)
            if encoding is None:
                problems.append(BadInput(path, "the HOG detector finds no face in this photo"))
                continue
            self.add(identity, encoding)
        return problems

    def identify(self, encodings: Encodings) -> list[str | None]:
        """The README's match: the nearest known face if within the tolerance, else None ("Unknown")."""
        if len(self._known) == 0:
            return [None] * len(encodings)
        out: list[str | None] = []
        for vector in encodings:
            distances = np.linalg.norm(self._known - vector, axis=1)
            best = int(np.argmin(distances))
            out.append(self.names[best] if distances[best] <= self.tolerance else None)
        return out

    def process(self, frame: Frame) -> list[str | None]:
        """One frame of the loop: BGR→RGB, detect, embed every face, match each."""
        rgb = _rgb(frame.image)
        return self.identify(self.encodings(rgb))


def _rgb(bgr: Image) -> Image:
    """``frame[:, :, ::-1]`` as a contiguous array (dlib refuses strided ones)."""
    return np.ascontiguousarray(bgr[:, :, ::-1])


def trim_box(rect: dlib.rectangle, width: int, height: int) -> dlib.rectangle:
    """``_trim_css_to_bounds`` then ``_css_to_rect``: the box clipped to the image."""
    return dlib.rectangle(
        max(rect.left(), 0), max(rect.top(), 0), min(rect.right(), width), min(rect.bottom(), height)
    )
