"""The review web app (extra [web]): FastAPI, server-rendered templates, vendored assets."""
