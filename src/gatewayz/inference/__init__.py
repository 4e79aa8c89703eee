"""Inference: the OpenAI-compatible endpoints and the request pipeline (the hot path)."""
