"""The threshold graph (vigil.search.clusters) on real LFW embeddings: photos of one person cluster,
strangers stay apart, and adding tracks one batch at a time gives the clusters of adding them at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.unknowns_kit import lfw_faces
from vigil.app import Engine
from vigil.search.clusters import ThresholdGraph, dense_labels, threshold_clusters
from vigil.services.clusters import LFW_THRESHOLDS

PEOPLE = {"Colin_Powell": 8, "Tony_Blair": 8, "Serena_Williams": 6}


def test_incremental_clusters_are_pure_and_equal_the_batch_ones(engine: Engine, lfw_images: Path) -> None:
    faces = lfw_faces(engine, lfw_images, PEOPLE)
    vectors = np.stack([f.vector for f in faces])
    truth = np.unique([f.person for f in faces], return_inverse=True)[1]
    at_once = threshold_clusters(vectors, LFW_THRESHOLDS["faceplugin-fr512"], batch=len(faces))
    one_by_one = threshold_clusters(vectors, LFW_THRESHOLDS["faceplugin-fr512"], batch=1)
    assert (at_once == one_by_one).all()
    for c in np.unique(at_once):
        assert len(set(truth[at_once == c])) == 1, "no cluster mixes two people"
    biggest = np.bincount(at_once).max()
    assert biggest >= 4, "photos of one person link up"
    chained = threshold_clusters(vectors, -1.0)
    assert len(np.unique(chained)) == 1, "at a threshold of -1 everything is linked"


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="cosine"):
        ThresholdGraph(4, 1.5)
    graph = ThresholdGraph(4, 0.5)
    with pytest.raises(ValueError, match="shape"):
        graph.add(np.array([1, 2]), np.zeros((3, 4), np.float32))
    graph.add(np.array([1]), np.array([[1, 0, 0, 0]], np.float32))
    with pytest.raises(ValueError, match="already"):
        graph.add(np.array([1]), np.array([[1, 0, 0, 0]], np.float32))
    assert list(dense_labels(np.array([7, 3, 7, 9]))) == [0, 1, 0, 2]
