"""The reference application of the benchmark: Flask's "hello world", served like the kiosk."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
