"""Jupyter: ``%load_ext modeldeck`` adds the ``%%needs MODEL...`` cell magic.

A notebook cell that uses a model which is not on this machine cannot run offline. Starting it with
``%%needs org/name`` runs it as usual when the model is cached or packaged (or when the hub can be reached, so
the model downloads), and otherwise skips it with one line saying which ``modeldeck pull`` to run once while
online, so the notebook still runs top to bottom.
"""

from __future__ import annotations

SKIPPED = "Skipped: needs"  # the start of the line a skipped cell prints (the tests count them)


def here(model: str) -> bool:
    """Whether ``model`` is on this machine: in the Hugging Face cache, or shipped in an installed package."""
    from .hub import cached_snapshot, packaged_path
    from .refs import ModelRef

    ref = ModelRef.parse(model)
    return cached_snapshot(ref) is not None or (ref.revision is None and packaged_path(ref.id) is not None)


def missing(models: list[str]) -> list[str]:
    """The models among ``models`` that a cell cannot get now: not here, and the hub out of reach."""
    absent = [m for m in models if not here(m)]
    if not absent:
        return []
    from .online import is_offline

    return absent if is_offline() else []


def needs(line: str, cell: str) -> None:
    """``%%needs MODEL [MODEL...]``: run the cell, or skip it with a note when a model cannot be had offline."""
    from IPython import get_ipython

    models = line.split()
    if not models:
        raise ValueError("%%needs takes the model ids the cell uses, e.g. %%needs gpt2")
    absent = missing(models)
    if absent:
        print(f"{SKIPPED} {', '.join(absent)}: run 'modeldeck pull {' '.join(absent)}' once while online.")
        return
    get_ipython().run_cell(cell).raise_error()


def load_ipython_extension(ipython) -> None:
    ipython.register_magic_function(needs, magic_kind="cell", magic_name="needs")
