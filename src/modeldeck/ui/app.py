"""The modeldeck web UI: one Gradio tab per task, grouped by modality, built from the specs.

The app calls only the public Python API (``modeldeck.load`` and the runner it
returns), so it never imports torch until a tab is used: building and serving
the page stays fast. Errors become readable messages in the page.
"""

from __future__ import annotations

import html
import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry calls from a local tool

import gradio as gr

from ..errors import InvalidInput
from ..spec import TaskSpec
from . import components as ui
from .auth import serve_auth
from .messages import chosen_model, model_picker

# Requests gradio runs at once, over every tab. Not 1: each model's engine serialises its own
# device work (and batches what it can), so several people can use the page at the same time.
QUEUE_CONCURRENCY = None
MODALITIES = (("text", "Text"), ("audio", "Audio"), ("vision", "Vision"), ("multimodal", "Multimodal"))
# System fonts: the default theme fetches Google Fonts, which an offline machine cannot reach.
THEME_FONTS = {
    "font": ["ui-sans-serif", "system-ui", "sans-serif"],
    "font_mono": ["ui-monospace", "Consolas", "monospace"],
}


def select_specs(tasks: Iterable[str] | None = None) -> list[TaskSpec]:
    """The specs of ``tasks`` (names or aliases), or of every task."""
    import modeldeck
    from ..pipelines import canonical_name

    specs = {spec.name: spec for spec in modeldeck.tasks()}
    if not tasks:
        return list(specs.values())
    names = []
    for task in tasks:
        name = canonical_name(task)
        if name not in names:
            names.append(name)
    return [specs[name] for name in names]


def cached_models() -> dict[str, list[str]]:
    """The models on this machine (cached or packaged) and the tasks each serves, for the pickers (empty when
    there is no cache)."""
    from ..catalog import model_tasks

    try:
        return model_tasks()
    except Exception:  # noqa: BLE001 - an unreadable cache: nothing to list
        return {}


def make_handler(spec: TaskSpec, inputs: list, params: list, model_box, view: ui.OutputView,
                 allow_folders: bool = False) -> Callable:
    """The function a task's Run button calls: widgets -> modeldeck.load(...)(...) -> widgets.

    For tasks whose runner streams, a generator that shows the text as it is made.
    """

    from ..runner import check_before_loading, task_streams
    from .running import chosen_params, page_errors, results

    def prepare(values: dict) -> tuple[dict, dict, str | None]:
        bound = {}
        for item, widget in zip(spec.inputs, inputs):
            value = ui.input_value(item, values.get(widget))
            if value is not None:
                bound[item.name] = value
        chosen = chosen_params(spec, [values.get(widget) for widget in params])
        model = chosen_model(values.get(model_box), spec, allow_folders)  # hub ids; folders only if allowed
        # missing, empty, unreadable or oversized input, or too much work, fails before a model loads (the CLI's
        # checks); on copies: the handler keeps the paths, the runner decodes again
        check_before_loading(spec.name, [dict(bound)], dict(chosen))
        return bound, chosen, model

    def shown(result: Any, bound: dict) -> Any:
        widgets = view.fill(result, bound)
        return widgets[0] if len(widgets) == 1 else widgets  # gradio unpacks only several outputs

    def answers(values: dict, progress, streaming: bool) -> Iterator[Any]:
        """The one path of a Run: widgets -> modeldeck.load(...)(...) -> widgets; with ``streaming`` (and a
        runner that streams), the text shown as it is made. Every failure becomes one line in the page."""
        with page_errors(values):
            bound, chosen, model = prepare(values)
            for result, _ in results(spec, load_function, model, bound, chosen, [], streaming=streaming,
                                     progress=progress):
                yield shown(result, bound)

    def handler(values: dict, progress=gr.Progress(track_tqdm=True)):
        *_, last = answers(values, progress, streaming=False)
        return last

    def stream_handler(values: dict, progress=gr.Progress()):
        yield from answers(values, progress, streaming=True)

    chosen = stream_handler if task_streams(spec.name) else handler
    chosen.__name__ = f"run_{spec.name.replace('-', '_')}"
    return chosen


@dataclass
class TaskTab:
    """One task's widgets and the function its Run button calls (tests drive it directly)."""

    spec: TaskSpec
    model: gr.Dropdown
    inputs: list
    params: list
    view: ui.OutputView
    handler: Callable

    def values(self, inputs: dict[str, Any], params: dict[str, Any] | None = None, model: str | None = None) -> dict:
        """The handler's argument for these widget values (by input/parameter name)."""
        values = {self.model: model}
        values.update({w: inputs.get(i.name) for i, w in zip(self.spec.inputs, self.inputs)})
        values.update({w: (params or {}).get(p.name) for p, w in zip(self.spec.params, self.params)})
        return values

    def call(self, values: dict, **kwargs: Any) -> Any:
        """What the page finally shows for these values (a streaming handler run to its end)."""
        out = self.handler(values, **kwargs)
        if inspect.isgenerator(out):
            last = None
            for last in out:
                pass
            return last
        return out


def task_tab(spec: TaskSpec, cached: list[str], gpu: Callable | None = None, allow_folders: bool = False) -> TaskTab:
    """The widgets and events of one task's tab (inside an open gr.Tab)."""
    gr.Markdown(
        f"**{spec.summary}**  \nDefault model: `{spec.default_model}` · output: {spec.output_help}",
        elem_id=ui.elem_id(spec, "summary"),
    )
    with gr.Row():
        with gr.Column(scale=1):
            model_box = model_picker(spec, cached, allow_folders)
            inputs = [ui.input_widget(spec, item) for item in spec.inputs]
            params = []
            if spec.params:
                with gr.Accordion("Options", open=True):
                    params = [ui.param_widget(spec, param) for param in spec.params]
            with gr.Row():
                run = gr.Button("Run", variant="primary", elem_id=ui.elem_id(spec, "run"))
                clear = gr.ClearButton(value="Clear", elem_id=ui.elem_id(spec, "clear"))
        with gr.Column(scale=1):
            view = ui.output_view(spec)
    clear.add([*inputs, *view.components])

    points = next((w for p, w in zip(spec.params, params) if p.name == ui.POINTS), None)
    image = next((w for i, w in zip(spec.inputs, inputs) if i.kind == "image" and not i.many), None)
    if points is not None and image is not None:
        many = spec.param(ui.POINTS).many

        def place(current: str, evt: gr.SelectData) -> str:
            return ui.add_point(current, getattr(evt, "index", None), many)

        # Page plumbing, not part of the API (api_name=False: private, left out of /info and the API page).
        image.select(place, inputs=[points], outputs=[points], show_progress="hidden", api_name=False)
        image.upload(lambda: "", outputs=[points], show_progress="hidden", api_name=False)
        image.clear(lambda: "", outputs=[points], show_progress="hidden", api_name=False)

    handler = make_handler(spec, inputs, params, model_box, view, allow_folders)
    endpoint = api_function(spec, handler, [*inputs, model_box, *params])
    if gpu is not None:
        endpoint = gpu(endpoint)
    run.click(
        endpoint,
        inputs=[*inputs, model_box, *params],  # in the order of 'modeldeck run TASK --help', named by the spec
        outputs=view.components,
        api_name=spec.name.replace("-", "_"),
        concurrency_limit=None,  # each model's engine queues its own device work; the page never waits on another tab
    )
    rows = ui.example_rows(spec)
    if rows:
        gr.Examples(rows, inputs=[*inputs, *params], label="Examples", cache_examples=False, api_visibility="private")
    return TaskTab(spec, model_box, inputs, params, view, handler)


def api_function(spec: TaskSpec, handler: Callable, widgets: list) -> Callable:
    """The function the Run button calls: one parameter per widget, named as the spec names them (inputs, then
    ``model``, then the parameters), handing the handler its {widget: value} dict."""
    from .api import named, required_count

    names = [i.name for i in spec.inputs] + ["model"] + [p.name for p in spec.params]
    optional = [i.optional for i in spec.inputs] + [True] * (1 + len(spec.params))
    default = inspect.signature(handler).parameters["progress"].default  # the handler's own gr.Progress

    def call(values: list, progress):
        by_widget = dict(zip(widgets, values))
        return handler(by_widget, progress=progress) if progress is not None else handler(by_widget)

    return named(call, names, required_count(optional), streams=inspect.isgeneratorfunction(handler),
                 progress=default, name=handler.__name__)


def load_function() -> Callable:
    """modeldeck.load, looked up at call time (tests replace it)."""
    import modeldeck

    return modeldeck.load


def build_app(
    tasks: Iterable[str] | None = None,
    *,
    gpu: Callable | None = None,
    title: str = "modeldeck",
    allow_folders: bool = False,
) -> gr.Blocks:
    """The Gradio app for ``tasks`` (default: all). ``gpu`` wraps each task's work (spaces.GPU).

    ``allow_folders``: the model box also opens folders on this machine (the operator's choice at launch,
    ``modeldeck ui --allow-local-models``); otherwise visitors name hub ids and cached models only."""
    specs = select_specs(tasks)
    cached = cached_models()
    from .chat import chat_tab, is_chat

    tabs: dict[str, Any] = {}
    gr.set_static_paths([str(ui.EXAMPLES_DIR)])
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(
            f"# {html.escape(title)}\nOpen-source Hugging Face models on this machine. Pick a task, "
            "then a model (the first use of a model loads it; later runs reuse it)."
        )
        with gr.Tabs():
            for modality, heading in MODALITIES:
                group = [s for s in specs if s.modality == modality]
                if not group:
                    continue
                with gr.Tab(heading, id=f"modality-{modality}", elem_id=f"modality-{modality}"):
                    with gr.Tabs():
                        for spec in group:
                            with gr.Tab(spec.name, id=spec.name, elem_id=ui.elem_id(spec, "tab")):
                                if is_chat(spec):
                                    tabs[spec.name] = chat_tab(spec, cached, gpu, load_function, allow_folders)
                                else:
                                    tabs[spec.name] = task_tab(spec, cached, gpu, allow_folders)
    app.modeldeck_tabs = tabs
    return app


def theme() -> gr.themes.Base:
    return gr.themes.Default(**THEME_FONTS)


def launch(app: gr.Blocks, host: str | None = "127.0.0.1", port: int | None = None, auth=None, **kwargs: Any) -> str:
    """Serve ``app`` without blocking; return its address.

    Never opens a public share tunnel (not even where GRADIO_SHARE, Colab, Kaggle or
    SageMaker would), and refuses an address other than loopback unless the page asks
    for a login: ``auth``, or else $MODELDECK_API_KEY as the password.
    """
    if kwargs.pop("share", None):
        raise InvalidInput(
            "modeldeck never opens a public share link.",
            "Serve on 127.0.0.1, or on another address with MODELDECK_API_KEY set.",
        )
    if host is None:  # gradio would read GRADIO_SERVER_NAME: check the address it would bind
        host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    auth = serve_auth(host, auth)
    from .guard import app_kwargs

    kwargs["app_kwargs"] = app_kwargs(kwargs.get("app_kwargs"))  # the server's body and JSON-depth caps
    app.queue(default_concurrency_limit=QUEUE_CONCURRENCY)
    app.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="Log in with any user name and the server's MODELDECK_API_KEY as the password." if auth else None,
        share=False,
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
        ssr_mode=False,
        theme=theme(),
        **kwargs,
    )
    from .manage import add_routes

    add_routes(app, login=auth is not None)  # modeldeck ps / stop, as against modeldeck serve
    return app.local_url
