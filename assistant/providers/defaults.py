"""Defaults users expect, kept apart from the provider modules so that reading settings imports no client."""

OLLAMA_URL = "http://127.0.0.1:11434"
OLLAMA_MODEL = "qwen2.5-coder:7b"  # the strongest open coding model at 7B in our survey; ~6 GB VRAM at Q4_K_M
OPENAI_URL = "http://127.0.0.1:8080/v1"  # llama.cpp's llama-server default port
