"""The HTTP service (`bounce-worker serve`): one ASGI app, one folder per entry point.

- `webhooks/`: ESP and gateway callbacks; verify the provider's signature, then publish.
- `v1/`: the JSON API for senders and operators (identity from an API key).
- `console/`: the support console's server-rendered pages.

Each folder exposes `router` (a FastAPI APIRouter); `app.create_app` mounts them. Nothing
here writes to the database for feedback: intake publishes to the broker and the worker
applies (one writer).
"""
