"""Report material (日报 … 年报, 专报) from ticket exports: pure counting over parsed tickets, then rendering.

May import ``kb``; never ``api``, ``cli`` or ``ingest``.
"""
