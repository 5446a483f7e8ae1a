"""A search that joins a Ray cluster by its address: two nodes of one CPU each on this machine
(``ray.cluster_utils.Cluster``), so that its two workers run on different nodes."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402
from tests.conftest import toy_search_settings  # noqa: E402

from autopeft.study.search import run_search  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    assert not ray.is_initialized()  # another module's Ray would be joined instead
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def test_a_search_joins_a_two_node_cluster_by_its_address(tmp_path, toy_csv, tiny_bert, cluster):
    settings = toy_search_settings(toy_csv, workers=2, ray_address=cluster.address)
    lines: list[str] = []
    outcome = run_search(settings, tmp_path / "s", echo=lines.append, base=tiny_bert)
    assert len(outcome.results) == 4 and all(r.status == "complete" for r in outcome.results)
    assert len({json.dumps(r.config, sort_keys=True) for r in outcome.results}) == 4
    assert any(line.startswith("Ray: 2 CPUs") for line in lines)  # both nodes
    assert ray.is_initialized()  # a joined cluster is left running
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
