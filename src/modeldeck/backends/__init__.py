"""How models are loaded: device and dtype choice, and safety checks."""
