"""The reference page of bench_pages: a bare Flask app, served by the same gunicorn.

Every page figure of the bench is a ratio against this one, measured in the same run with
the same load generator, so the noise of a shared machine cancels out.
"""

from flask import Flask

app = Flask(__name__)

PAGE = "<!doctype html><html lang=en><title>bare</title><h1>Bare Flask page</h1></html>"


@app.get("/")
def bare() -> str:
    return PAGE
