"""WSGI entry point for production servers: ``gunicorn -w N api.wsgi:app``.

Each worker builds the app from the environment (``create_app()`` reads ``env_config()``, as ``accredit serve``
does) and has no side effects: migrating and deploying the shipped library are one-off commands run before
the workers start (``accredit db upgrade``, ``accredit processes deploy``), and timers are fired by ``accredit
scheduler`` beside them. ``accredit serve --workers N`` does all of that for you (api/server.py)."""
from .app import create_app
from .server import settle_heap

app = create_app()
settle_heap()  # the startup heap out of the garbage collector's walks (api/server.py)
