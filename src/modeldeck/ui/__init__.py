"""The web UI (Gradio) generated from the task specs, and Hugging Face Space export.

``modeldeck ui`` serves it; ``modeldeck space export`` writes a Space around it.
Importing this package imports nothing heavy; ``ui.app`` imports gradio (not torch).
"""

import os

# No telemetry or version checks from a local tool (and none from an offline machine).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
