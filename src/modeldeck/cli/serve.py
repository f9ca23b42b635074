"""``modeldeck serve``: the HTTP server (Hugging Face Inference task API and OpenAI API)."""

from __future__ import annotations

import os

import click

from ..ui.auth import is_loopback


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs an API key.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--tasks", "tasks", default=None, help="Comma-separated tasks to serve (default: all).")
@click.option("--preload", multiple=True, metavar="[TASK=]MODEL", help="Load at start (repeatable).")
@click.option("--api-key", default=None, help="Require 'Authorization: Bearer KEY' (default: $MODELDECK_API_KEY).")
@click.option("--max-body-mb", default=50.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Largest request body.")
@click.option("--max-audio-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Longest audio input (default: $MODELDECK_MAX_AUDIO_SECONDS or 4 hours).")
@click.option("--max-image-pixels", type=click.IntRange(min=1), default=None,
              help="Largest picture input (default: $MODELDECK_MAX_IMAGE_PIXELS or 40 megapixels).")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=None,
              help="Most tokens generated per request (default: $MODELDECK_MAX_NEW_TOKENS or 4096).")
@click.option("--queue-size", default=64, show_default=True, type=click.IntRange(min=1),
              help="Requests waiting per model before 503 + Retry-After.")
@click.option("--allow-urls", is_flag=True, help="Fetch http(s) URLs given as picture or audio inputs.")
@click.option("--voice", "voices", multiple=True, metavar="NAME=MODEL[#SPEAKER]",
              help="An OpenAI voice name (alloy, nova...) for a voice model (repeatable).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--ray", "ray_address", default=None, is_flag=False, flag_value="", metavar="[ADDRESS]",
              help="Serve as a Ray Serve application on the Ray cluster at ADDRESS ('auto': the running one; "
                   "none given: the running one, else a new local one). --preload names the models.")
@click.option("--replicas", multiple=True, metavar="[MODEL=]N", help="Ray: replicas per model (default 1).")
@click.option("--min-replicas", multiple=True, metavar="[MODEL=]N", help="Ray: autoscale from N replicas.")
@click.option("--max-replicas", multiple=True, metavar="[MODEL=]N", help="Ray: autoscale up to N replicas.")
@click.option("--target-ongoing", default=2.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Ray autoscaling: ongoing requests per replica to aim for.")
@click.option("--replica-cpus", multiple=True, metavar="[MODEL=]X", help="Ray: CPUs per model replica (default 0.5).")
@click.option("--replica-gpus", multiple=True, metavar="[MODEL=]X", help="Ray: GPUs per model replica (default 0).")
@click.option("--ingress-cpus", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Ray: CPUs reserved for the HTTP ingress.")
@click.option("--proxy-location", default="HeadOnly", show_default=True,
              type=click.Choice(["HeadOnly", "EveryNode"]), help="Ray: where Serve's HTTP proxies run.")
@click.option("--request-timeout", default=300.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Ray: seconds to wait for a model replica before a retryable 504.")
@click.option("--autoscaling", "autoscaling", multiple=True, metavar="NAME=VALUE",
              help="Ray autoscaling: another field of Serve's autoscaling_config (upscale_delay_s, "
                   "downscale_delay_s, look_back_period_s...; repeatable).")
@click.option("--separate-ingress", is_flag=True,
              help="Ray: with one model too, a separate ingress deployment in front of the model's replicas.")
@click.option("--print-config", is_flag=True, help="Ray: print a Serve config file (serve deploy, KubeRay) and exit.")
@click.option("--dtype", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default=None,
              help="dtype of the torch models served (default: $MODELDECK_DTYPE or auto: bf16 where this CPU "
                   "computes it natively and the task keeps its answers in it, else fp32).")
def serve_command(host, port, tasks, preload, api_key, max_body_mb, max_audio_seconds, max_image_pixels,
                  max_new_tokens, queue_size, allow_urls, voices, log_level, ray_address=None, replicas=(),
                  min_replicas=(), max_replicas=(), target_ongoing=2.0, replica_cpus=(), replica_gpus=(),
                  ingress_cpus=0.0, proxy_location="HeadOnly", request_timeout=300.0, autoscaling=(),
                  separate_ingress=False, print_config=False, dtype=None) -> None:
    """Serve models over HTTP: Hugging Face InferenceClient and the openai package work against it.

    \b
    modeldeck serve                                  # http://127.0.0.1:8000, docs at /docs
    modeldeck serve --preload sentence-transformers/all-MiniLM-L6-v2
    modeldeck serve --host 0.0.0.0 --api-key "$KEY"  # reachable from other machines
    modeldeck serve --ray --preload whisper-1 --preload sentence-transformers/all-MiniLM-L6-v2 --replicas 2
    """
    from ..errors import InvalidInput, MissingDependency
    from ..pipelines import canonical_name

    key = api_key or os.environ.get("MODELDECK_API_KEY") or None
    if key is not None and not key.strip():  # a key anyone can type is no key
        raise InvalidInput("The API key is empty or only spaces.", "Give a real secret with --api-key or MODELDECK_API_KEY.")
    if not is_loopback(host) and not key and not print_config:
        raise InvalidInput(
            f"Serving on {host} makes the server reachable from other machines, so it needs an API key.",
            "Add --api-key KEY (or set MODELDECK_API_KEY), or serve on 127.0.0.1.",
        )
    names = tuple(canonical_name(t.strip()) for t in tasks.split(",") if t.strip()) if tasks else None
    voice_map = {}
    for entry in voices:
        name, sep, model = entry.partition("=")
        if not sep or not name or not model:
            raise InvalidInput(f"--voice {entry!r} is not NAME=MODEL[#SPEAKER].", "E.g. --voice nova=rhasspy/piper-voices/en_US-joe-medium")
        voice_map[name] = model
    if dtype is not None:
        from ..dtypes import set_process_dtype

        set_process_dtype(dtype, check=ray_address is None and not print_config)  # Ray: checked on each node
    # Limits are process settings, fixed here at start (requests never change them).
    for env, value in (("MODELDECK_MAX_AUDIO_SECONDS", max_audio_seconds), ("MODELDECK_MAX_IMAGE_PIXELS", max_image_pixels),
                       ("MODELDECK_MAX_NEW_TOKENS", max_new_tokens)):
        if value is not None:
            os.environ[env] = str(value)
    if ray_address is not None or print_config:
        from ..cluster.cli import make_plan, serve_on_ray
        from ..server.config import ServerConfig

        config = ServerConfig(tasks=names, api_key=key, max_body_bytes=int(max_body_mb * 1024 * 1024),
                              queue_size=queue_size, allow_urls=allow_urls, preload=tuple(preload), voices=voice_map)
        plan = make_plan(config, replicas, min_replicas, max_replicas, target_ongoing, replica_cpus, replica_gpus,
                         ingress_cpus, request_timeout, autoscaling, separate_ingress)
        return serve_on_ray(plan, ray_address, host, port or 8000, proxy_location, print_config, log_level)
    try:
        import uvicorn

        from ..server import ServerConfig, create_app
    except ImportError as e:
        raise MissingDependency(f"The server needs FastAPI and uvicorn ({e}).", "pip install 'modeldeck[server]'") from e
    config = ServerConfig(tasks=names, api_key=key, max_body_bytes=int(max_body_mb * 1024 * 1024),
                          queue_size=queue_size, allow_urls=allow_urls, preload=tuple(preload), voices=voice_map)
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                                          timeout_graceful_shutdown=5))
    _announce(server, host)
    server.run()


def _announce(server, host: str) -> None:
    """Print the address once the socket is bound (with --port 0, the port picked)."""
    startup = server.startup

    async def announced(sockets=None):
        await startup(sockets=sockets)
        for s in server.servers:
            for sock in s.sockets:
                address = sock.getsockname()
                shown = f"[{address[0]}]" if ":" in address[0] else address[0]
                click.echo(f"modeldeck serving on http://{shown}:{address[1]}  (docs: /docs)", err=False)
                return

    server.startup = announced
