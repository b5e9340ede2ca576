"""`vigil bench watchlist`: tracks judged as the live router would, on a real clip, as the list grows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vigil.app import Engine
from vigil.evaluate.bench_watchlist import CLIPS, TrackProbes, judge, rejected, run_model
from vigil.evaluate.embed_images import VectorCache
from vigil.match.watchlist import Watchlist


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, np.float32)
    return v / np.linalg.norm(v)


def test_a_track_is_named_by_its_first_accepted_probe_as_one_alert_would_be() -> None:
    wl = Watchlist("m", 3)
    wl.add("ann", _unit(1, 0, 0), "a", "m")
    wl.add("bob", _unit(0, 1, 0), "b", "m")
    first_bob_then_ann = TrackProbes("clip", 1, np.stack([_unit(0.1, 1, 0), _unit(1, 0.1, 0)]))
    ann = TrackProbes("clip", 2, np.stack([_unit(0, 0, 1), _unit(1, 0, 0.2)]))  # unknown, then ann
    nobody = TrackProbes("clip", 3, np.stack([_unit(0, 0, 1)]))
    r = judge(
        [first_bob_then_ann, ann, nobody], {"clip": frozenset({"ann"})}, wl,
        threshold=0.9, min_margin=0.0, n_tracks=4, distractors=0,
    )  # fmt: skip
    assert r.true_named == 1
    assert r.strangers_named == ("clip #1: named as bob (0.995)",)  # the alert went out as bob
    assert r.missed == ()
    assert (r.tracks, r.judged) == (4, 3)
    assert r.false_alerts_per_1000 == 1000 / 3

    # Rejecting a false alert as "not this person" (the track's last template becomes a negative of bob):
    # the same stranger is not named as bob again; ann still is.
    stranger = TrackProbes("clip", 5, np.stack([_unit(0.05, 1, 0.3), _unit(0.1, 1, 0.3)]))
    tracks = [stranger, ann]
    before = judge(tracks, {"clip": frozenset({"ann"})}, wl, threshold=0.9, min_margin=0.0, n_tracks=2,
                   distractors=0)  # fmt: skip
    assert [n.person for n in before.strangers] == ["bob"]
    after = judge(tracks, {"clip": frozenset({"ann"})}, wl, threshold=0.9, min_margin=0.0, n_tracks=2,
                  distractors=0, negatives=rejected(before, tracks))  # fmt: skip
    assert after.strangers == () and after.true_named == before.true_named == 1


def test_on_the_hamilton_clip_miranda_is_named_and_thresholds_rise_with_the_list(
    engine: Engine, test_data: Path
) -> None:
    hamilton = [c for c in CLIPS if "hamilton" in c.path]
    result = run_model(
        engine, engine.config, test_data, VectorCache(None), sizes=(0, 300), clips=hamilton, workers=1
    )
    small, large = result.sizes
    assert (small.people, large.people) == (4, 304)
    assert small.threshold < large.threshold
    for size in result.sizes:
        assert size.true_named >= 1, size
        assert not any("Miranda" in m for m in size.missed), size
        assert size.strangers_named == (), size
        assert size.after_feedback is not None and size.after_feedback.true_named == size.true_named
