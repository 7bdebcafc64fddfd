"""The bare Flask app the benchmark compares the real one with: one route answering "ok".

Served by the same gunicorn configuration (gunicorn.conf.py), so the ratio between the two
is what the application itself costs: database, templates, sessions, compression.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def ok() -> str:
    """The cheapest page a Flask app can serve."""
    return "ok"
