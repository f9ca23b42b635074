"""The web UI (Gradio) generated from the task specs, and Hugging Face Space export.

``modeldeck ui`` serves it; ``modeldeck space export`` writes a Space around it.
Importing this package imports nothing; ``ui.app`` imports gradio (not torch).
"""
