"""A Ray cluster of one-CPU nodes on this machine, for the benches that measure the cluster runtime
(Ray's own cluster utilities: a head and worker nodes, each its own raylet)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vigil.errors import ConfigError

ONE_CPU_NODE: dict[str, Any] = {"num_cpus": 1, "include_dashboard": False}
"""What each node of :func:`local_cluster` is given (``Cluster.add_node`` arguments)."""


@contextmanager
def local_cluster(nodes: int, why: str) -> Iterator[Any]:
    """A head and ``nodes - 1`` more nodes of one CPU each; yields Ray's ``Cluster`` (``.address``,
    ``.add_node``, ``.remove_node``). This process leaves the cluster and every node is shut down at the end.

    Raises:
        ConfigError: Ray is not installed (``why`` says what needed it).
    """
    try:
        import ray  # noqa: PLC0415 (the optional extra vigil[cluster])
        import ray.cluster_utils  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(f"{why} needs Ray: pip install 'vigil[cluster]'") from exc
    head = ray.cluster_utils.Cluster(
        initialize_head=True, connect=False,
        head_node_args={**ONE_CPU_NODE, "_system_config": {"health_check_period_ms": 1000}},
    )  # fmt: skip
    try:
        for _ in range(nodes - 1):
            head.add_node(**ONE_CPU_NODE)
        head.wait_for_nodes()
        yield head
    finally:
        if ray.is_initialized():
            ray.shutdown()
        head.shutdown()  # type: ignore[no-untyped-call]
