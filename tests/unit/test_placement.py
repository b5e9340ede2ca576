"""The placement rule both runtimes share: least busy first, where it ran before on a tie, few moves."""

from __future__ import annotations

from vigil.runtime.placement import least_loaded, rebalance


def test_a_camera_goes_to_the_least_busy_worker_and_back_where_it_ran_on_a_tie() -> None:
    assert least_loaded({}) is None
    assert least_loaded({"a": 2, "b": 1, "c": 1}) == "b"
    assert least_loaded({"a": 2, "b": 1, "c": 1}, prefer=["c"]) == "c"
    assert least_loaded({"a": 2, "b": 1}, prefer=["a"]) == "b", "a busier worker is not preferred"


def test_a_joining_worker_takes_only_what_evens_the_load() -> None:
    moves = rebalance({"a": [1, 2, 3, 4], "b": [5, 6, 7, 8], "new": []})
    assert len(moves) == 2 and {dst for _, _, dst in moves} == {"new"}
    assert {cam for cam, _, _ in moves} == {4, 8}, "the newest camera of each busy worker moves"
    assert rebalance({"a": [1, 2], "b": [3]}) == [], "one camera apart is balanced"
    assert rebalance({"a": [1, 2, 3, 4, 5], "b": []}) == [(5, "a", "b"), (4, "a", "b")]
