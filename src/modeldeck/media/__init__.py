"""Decode and encode media: images (image.py) and audio (audio.py), from files, bytes or base64."""
