"""docs/architecture.md is what scripts/draw_architecture.py draws from today's imports."""

from __future__ import annotations

import pytest
from helpers.tiny_models import load_script

draw = load_script("draw_architecture")


def test_the_committed_diagram_matches_the_imports():
    assert draw.main(["check=true"]) == 0


def test_the_layer_graph_is_read_from_the_source(tmp_path):
    package = tmp_path / "posekit"
    for layer, body in {"core": "", "data": "from posekit.core import x\n",
                        "engine": "import posekit.data.y\nfrom posekit.core.z import w\n"}.items():
        (package / layer).mkdir(parents=True)
        (package / layer / "m.py").write_text(body)
    graph = draw.layer_imports(package)
    assert graph == {"core": set(), "data": {"core"}, "engine": {"core", "data"}}
    assert draw.depths(graph) == {"core": 0, "data": 1, "engine": 2}
    (package / "core" / "m.py").write_text("from posekit.engine import e\n")
    with pytest.raises(ValueError, match="import cycle"):
        draw.depths(draw.layer_imports(package))
