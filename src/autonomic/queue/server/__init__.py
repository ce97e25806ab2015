"""The Task Queue Server: an ASGI app over a `Store`, run by uvicorn (`autonomic serve`)."""
