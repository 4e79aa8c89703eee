"""The HTTP edge: what every request passes through before (and after) its route.

Pure-ASGI layers (no BaseHTTPMiddleware: it costs throughput on every request), outermost first:
trailing-slash normalisation, request id, access log, body cap, authentication before any body is
read. Plus the offline API docs and the JSON answers to unknown paths and wrong methods.
POST to the inference endpoints takes one lean path in front of all of it (hot_path.py), built
from the same pieces.
"""
