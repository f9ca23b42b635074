"""JSON Schemas (2020-12) for a task's inputs, parameters and output, made from its spec.

One description of a call for any client that speaks JSON (``modeldeck tasks --json``
prints them all): inputs and parameters as JSON objects, and the output as the JSON
that ``modeldeck.jsonable.to_jsonable`` makes of a result. Plain data only: nothing
heavy is imported.
"""

from __future__ import annotations

import copy
from typing import Any

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


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON object with these keys (and no others)."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


NUMBER, INTEGER, STRING = {"type": "number"}, {"type": "integer"}, {"type": "string"}
PNG = {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png"}
SCORE = {"type": "number", "minimum": 0, "maximum": 1}
CANDIDATE = _obj({"sequence": STRING, "score": SCORE, "token": INTEGER, "token_str": STRING})
ANSWER = _obj({"answer": STRING, "score": NUMBER}, {"start": INTEGER, "end": INTEGER})
GENERATED = _list(_obj({"generated_text": STRING}))
OFFSET = {"type": "integer", "minimum": 0}
# a grouped entity ("entity_group"), or with aggregation "none" a token ("entity", "index")
ENTITY = {
    "type": "object",
    "properties": {"entity_group": STRING, "entity": STRING, "score": SCORE, "word": STRING, "start": OFFSET,
                   "end": OFFSET, "index": OFFSET},
    "required": ["score", "word", "start", "end"],
    "oneOf": [{"required": ["entity_group"]}, {"required": ["entity", "index"]}],
    "additionalProperties": False,
}

# The JSON shape of each output kind (spec.OutputKind), as to_jsonable turns results into JSON.
KIND_OUTPUTS: dict[str, dict[str, Any]] = {
    "labels": _list(_obj({"label": STRING, "score": NUMBER})),
    "vectors": _list(_list(NUMBER)),
    "scores": _list(NUMBER),
    # one list of candidates per mask token; the list itself when the text has one mask
    "fill-mask": {"anyOf": [_list(CANDIDATE), _list(_list(CANDIDATE))]},
    "text": {"anyOf": [{"type": "object", "additionalProperties": STRING, "minProperties": 1}, GENERATED]},
    "answer": {"anyOf": [ANSWER, _list(ANSWER)]},
    "audio": _obj({"audio": _list(NUMBER), "sampling_rate": {"type": "integer", "minimum": 1}}),
    "transcript": _obj({
        "text": STRING,
        "chunks": _list(_obj({"text": STRING, "timestamp": {**_list(NUMBER), "minItems": 2, "maxItems": 2}})),
    }),
    "image": {"anyOf": [PNG, _list(PNG)]},
    "boxes": _list(_obj({
        "label": STRING,
        "score": SCORE,
        "box": _obj({k: {"type": "integer", "minimum": 0} for k in ("xmin", "ymin", "xmax", "ymax")}),
    })),
    "masks": _list(_obj({"mask": PNG, "score": NUMBER}, {"prompt": {"type": "integer", "minimum": 0}, "label": STRING})),
    # the 8-bit picture maps min to 0 and max to 255; the float map stays out of JSON
    "depth": _obj({"depth": PNG, "min": NUMBER, "max": NUMBER}),
    "message": _obj({"role": {"const": "assistant"}, "content": STRING}),
    "entities": _list(ENTITY),
    "ranking": _list(_obj({"index": OFFSET, "score": NUMBER, "text": STRING})),
}

# Tasks whose results are narrower than (or differ from) their kind's general shape. A spec can
# declare its own with ``TaskSpec.output_schema``, which wins over both.
TASK_OUTPUTS: dict[str, dict[str, Any]] = {
    "summarization": _obj({"summary_text": STRING}),
    "translation": _obj({"translation_text": STRING}),
    "text-generation": GENERATED,
    "image-to-text": {**_list(_obj({"generated_text": STRING})), "minItems": 1, "maxItems": 1},
    # one answer, or a list of them best first when top_k > 1
    "question-answering": {
        "anyOf": [_obj({"answer": STRING, "score": NUMBER, "start": INTEGER, "end": INTEGER}),
                  _list(_obj({"answer": STRING, "score": NUMBER, "start": INTEGER, "end": INTEGER}))]
    },
    "visual-question-answering": _list(_obj({"answer": STRING, "score": SCORE})),
    # ranks texts for one image, or images (by file path, else position) for one text
    "image-text-matching": _list({
        "type": "object",
        "properties": {
            "text": STRING, "image": {"type": ["string", "integer"]}, "score": SCORE, "cosine": NUMBER,
        },
        "required": ["score"],
        "oneOf": [{"required": ["text"]}, {"required": ["image"]}],
        "additionalProperties": False,
    }),
}


def output_schema(spec: TaskSpec) -> dict[str, Any]:
    """The JSON shape of one result (as ``to_jsonable`` makes it)."""
    declared = getattr(spec, "output_schema", None)
    shape = declared or TASK_OUTPUTS.get(spec.name) or KIND_OUTPUTS[spec.output]
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
