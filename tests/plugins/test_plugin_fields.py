"""The plugin READMEs' attribute tables agree with the schema compiled into the plugins."""
import re
from pathlib import Path

import pytest

from mrcnn_edge import _plugin_ref

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def _readme_attributes(readme):
    """(name, type, length or None) rows of the '## Attributes' table."""
    section = readme.read_text().split("## Attributes", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"`\w+`", cells[0]):
            length = None if cells[2] == "variable" else int(cells[2])
            rows.append((cells[0].strip("`"), cells[1], length))
    return rows


@pytest.mark.parametrize(
    "op, folder", [(_plugin_ref.MULTILEVEL_ROI_ALIGN, "multilevel_roi_align"), (_plugin_ref.BATCHED_NMS, "batched_nms")]
)
def test_readme_table_matches_schema(op, folder):
    assert _readme_attributes(PLUGINS / folder / "README.md") == _plugin_ref.plugin_fields(op)


def test_unknown_op_is_an_error():
    with pytest.raises(ValueError):
        _plugin_ref.plugin_fields("NoSuchOp_TRT")
