"""JSON Schemas (2020-12) for a task's inputs, parameters and output, made from its spec.

One description of a call for any client that speaks JSON (``modeldeck tasks --json``
prints them all): inputs and parameters as JSON objects, and the output as the JSON
that ``modeldeck.jsonable.to_jsonable`` makes of a result. Plain data only: nothing
heavy is imported.
"""

from __future__ import annotations

import copy
from typing import Any

from .outputs import json_schema
from .spec import Input, Param, TaskSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# -- inputs ---------------------------------------------------------------------------------------

TEXT = {"type": "string", "minLength": 1, "pattern": r"\S"}  # Task.check refuses blank text
ROLES = ["system", "user", "assistant"]
MESSAGE_IN = {
    "type": "object",
    "properties": {"role": {"enum": ROLES}, "content": {"type": "string"}},
    "required": ["role", "content"],
    "additionalProperties": False,
}


def _media(kind: str) -> dict[str, Any]:
    """A picture or a sound sent as text: a file path, base64 or a data: URL (the media decoders read all three)."""
    return {
        "type": "string",
        "minLength": 1,
        "contentEncoding": "base64",
        "contentMediaType": f"{kind}/*",
    }


def _input_value(spec: Input) -> dict[str, Any]:
    if spec.kind == "messages":
        one: dict[str, Any] = {
            "anyOf": [
                {**TEXT, "description": "one new user message"},
                {"type": "array", "items": MESSAGE_IN, "minItems": 1, "description": "the conversation, in order"},
            ]
        }
    elif spec.kind in ("image", "audio"):
        one = _media(spec.kind)
    else:
        one = dict(TEXT)
    if spec.many:
        one = {"type": "array", "items": one, "minItems": 1}
    if spec.help:
        one["description"] = spec.help
    return one


def input_schema(spec: TaskSpec) -> dict[str, Any]:
    """The inputs of one call, as a JSON object keyed by input name."""
    return {
        "$schema": DIALECT,
        "title": f"{spec.name} inputs",
        "type": "object",
        "properties": {i.name: _input_value(i) for i in spec.inputs},
        "required": [i.name for i in spec.inputs if not i.optional],
        "additionalProperties": False,
    }


# -- parameters -----------------------------------------------------------------------------------

JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}
_NUMBER = r"\s*[-+]?(\d+\.?\d*|\.\d+)\s*"
# Each value of a ``many`` parameter with an item shape: a list of numbers, or the CLI's "x,y" text.
ITEMS = {
    "point": {
        "anyOf": [
            {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            {"type": "string", "pattern": f"^{_NUMBER},{_NUMBER}$"},
        ],
        "description": "x, y in pixels",
    },
    "box": {
        "anyOf": [
            {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            {"type": "string", "pattern": f"^{_NUMBER}(,{_NUMBER}){{3}}$"},
        ],
        "description": "xmin, ymin, xmax, ymax in pixels",
    },
}


def _scalar(param: Param) -> dict[str, Any]:
    """One value of ``param``: its JSON type, choices and bounds."""
    schema: dict[str, Any] = {}
    if param.type in JSON_TYPES:
        schema["type"] = JSON_TYPES[param.type]
    if param.choices:
        schema["enum"] = list(param.choices)
    if param.type in (int, float):
        if param.min is not None:
            schema["exclusiveMinimum" if param.exclusive_min else "minimum"] = param.min
        if param.max is not None:
            schema["maximum"] = param.max
    return schema


def _param_value(param: Param) -> dict[str, Any]:
    if param.many:
        item = copy.deepcopy(ITEMS[param.item]) if param.item in ITEMS else _scalar(param)
        # Param.coerce also splits text at commas, as the CLI does.
        schema: dict[str, Any] = {
            "anyOf": [{"type": "array", "items": item}, {"type": "string", "description": "comma-separated values"}]
        }
    else:
        schema = _scalar(param)
    if param.default is None:
        # None means "not given": the task's (or the model's) own setting applies.
        schema = {"anyOf": [*schema.get("anyOf", [schema]), {"type": "null"}]}
    else:
        schema["default"] = list(param.default) if isinstance(param.default, tuple) else param.default
    if param.help:
        schema["description"] = param.help
    return schema


def params_schema(spec: TaskSpec) -> dict[str, Any]:
    """The tuning parameters of one call; any left out take their defaults."""
    return {
        "$schema": DIALECT,
        "title": f"{spec.name} parameters",
        "type": "object",
        "properties": {p.name: _param_value(p) for p in spec.params},
        "additionalProperties": False,
    }


# -- outputs --------------------------------------------------------------------------------------

# Each output kind's JSON shape lives in its module (modeldeck.outputs); a task whose results are narrower
# than (or differ from) its kind's general shape declares its own as ``TaskSpec.output_schema``.


def output_schema(spec: TaskSpec) -> dict[str, Any]:
    """The JSON shape of one result (as ``to_jsonable`` makes it)."""
    shape = spec.output_schema or json_schema(spec.output)
    schema = copy.deepcopy(shape)
    schema.setdefault("$schema", DIALECT)
    schema.setdefault("title", f"{spec.name} output")
    schema.setdefault("description", spec.output_help)
    return schema


def task_schemas(spec: TaskSpec) -> dict[str, dict[str, Any]]:
    """The three schemas of ``spec``, keyed as ``modeldeck tasks --json`` gives them."""
    return {
        "input_schema": input_schema(spec),
        "params_schema": params_schema(spec),
        "output_schema": output_schema(spec),
    }
