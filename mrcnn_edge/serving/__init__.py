"""Serving at scale through Triton Inference Server: the model repository `export-triton` writes
(repository.py), the Python-backend model it can carry (triton_python_model.py) and the local server
`serve` runs (server.py). The client, `triton://` URLs, is a runtime backend (runtime/backends)."""
