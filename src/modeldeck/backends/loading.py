"""The last step of a model's walk (see ``pool``): the task's loader, under the load guards."""

from __future__ import annotations

from . import quiet_libraries


def load(task: type, path, model_id: str, device: str, options: dict, dtype: str):
    """``task`` loaded from the folder ``path`` in ``dtype``, under the load guards (pickle and remote code
    allowed only as ``options`` say; the task named in a refusal); a library's refusal in modeldeck's words."""
    from .. import dtypes
    from ..errors import ModeldeckError
    from .transformers import allowing

    spec = task.spec
    quiet_libraries()
    with allowing(model_id, allow_pickle=options.get("allow_pickle", False),
                  trust_remote_code=options.get("trust_remote_code", False),
                  task=(spec.name, spec.default_model)), \
            dtypes.loading(dtype, dtypes.requested(options)) as loaded:  # torch loaders read the dtype
        try:
            state = task(path, model_id, device=device, **options)
        except ModeldeckError:
            raise
        except Exception as e:  # noqa: BLE001 - a library refused the model: say which, and why
            raise load_failure(spec, model_id, path, e) from e
    dtypes.settle(state, loaded)  # state.precision: the dtype its torch model runs in
    return state


def load_failure(spec, model: str, folder, error: Exception):
    """A modeldeck error for a library error raised while loading ``model`` (from ``folder``) for a task."""
    from ..errors import TaskFailed

    text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    if "Unrecognized configuration class" in str(error) or "Unrecognized model" in str(error):
        from ..heads import folder_config, unrecognised

        return unrecognised(spec, model, folder_config(folder))  # in modeldeck's words, no library class names
    if type(error).__name__.startswith("StrictDataclass"):  # a config.json field of the wrong type
        from pathlib import Path

        from ..integrity import Problem, broken_error

        return broken_error(model, Path(folder), [Problem("config.json", wrong_field(str(error)))])
    return TaskFailed(
        f"Loading {model} for {spec.name} failed: {type(error).__name__}: {text}",
        "Check that the model is made for this task; run again with --debug for the traceback.",
    )


FIELD_KINDS = {"int": "a whole number", "float": "a number", "str": "text", "bool": "true or false", "list": "a list",
         "dict": "an object"}


def wrong_field(text: str) -> str:
    """What a config class's field check found (``Field 'n_embd' expected int, got str (value: 'x')``), in words."""
    import re

    found = re.search(r"Field '([^']+)' expected (\w+), got \w+ \(value: (.{0,60})", text)
    if found is None:
        field = re.search(r"field '([^']+)'", text)
        return f"the field {field.group(1)!r} has a value of the wrong type" if field else "a field of the wrong type"
    name, kind, value = found.groups()
    value = value[:-1] if value.endswith(")") else value + "..."
    return f"{name} is {value}, where the model needs {FIELD_KINDS.get(kind, kind)}"
