"""README's task table names every registered task, its aliases and its default model (so it never drifts
from the registry)."""

from __future__ import annotations

import re
from pathlib import Path

from modeldeck.pipelines import registry

README = Path(__file__).parents[1] / "README.md"


def table_rows() -> dict[str, tuple[set[str], str]]:
    """task -> (aliases, default model) from README's "## Tasks" table."""
    section = README.read_text().split("## Tasks", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        tasks, aliases = re.findall(r"`([^`]+)`", cells[0]), set(re.findall(r"`([^`]+)`", cells[1]))
        for task in tasks:
            rows[task] = (aliases, cells[2])
    return rows


def test_the_readme_task_table_lists_every_task_with_its_aliases_and_default_model():
    rows = table_rows()
    assert list(rows) == list(registry()), "README's task table: one row per task, in the registry's order"
    for name, task in registry().items():
        aliases, model = rows[name]
        assert set(task.spec.aliases) <= aliases, f"{name}: aliases {task.spec.aliases} missing from README"
        assert model.startswith(task.spec.default_model), f"{name}: README names {model}"
