"""A model id walks one way down (pool.py's docstring): the pool calls each step's module in turn, and no
step reaches back to the pool or to an earlier step, not even inside a function."""

from tests.test_structure import import_graph

# The walk's steps in order, each the module(s) that do it.
STEPS = [
    ["modeldeck.load_options"],
    ["modeldeck.heads"],
    ["modeldeck.hub"],
    ["modeldeck.integrity"],
    ["modeldeck.memory.predict", "modeldeck.memory.folders"],
    ["modeldeck.backends.loading"],
]
# What a step may still ask of an earlier one, and why.
WORDING = {("modeldeck.backends.loading", "modeldeck.heads"),  # a missing head met while loading, in heads' words
           ("modeldeck.backends.loading", "modeldeck.integrity")}  # a mistyped config field: integrity's repair


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in graph[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_no_step_reaches_the_pool_or_an_earlier_step():
    graph = import_graph(lazy=True)
    for index, step in enumerate(STEPS):
        earlier = {m for s in STEPS[:index] for m in s} | {"modeldeck.pool"}
        for module in step:
            back = sorted(m for m in reaches(graph, module) & earlier if (module, m) not in WORDING)
            assert not back, f"{module} reaches back to {back}"


def test_the_pool_calls_every_step():
    graph = import_graph(lazy=True)
    called = graph["modeldeck.pool"] | reaches(graph, "modeldeck.memory")
    for step in STEPS:
        assert any(m in called for m in step), step
