"""/assets/*: the console's own CSS and scripts, and the browser libraries npm installed (package.json,
package-lock.json), served by name to anyone (the login page needs them)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory

from shared.auth import public
from shared.errors import NotFound

bp = Blueprint("assets", __name__)
STATIC = Path(__file__).resolve().parents[1] / "static"

# The files a page may load, by the name the templates use: nothing else under node_modules is served.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "uPlot.iife.min.js": "uplot/dist/uPlot.iife.min.js",
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
}


@bp.get("/assets/vendor/<path:name>")
@public
def vendor(name: str):
    """One of VENDOR_FILES, cached by the browser for a day."""
    if name not in VENDOR_FILES:
        raise NotFound(f"no asset {name}")
    folder = current_app.extensions["settings"].console_assets_dir / "node_modules"
    return send_from_directory(folder, VENDOR_FILES[name], max_age=86400)


@bp.get("/assets/<path:name>")
@public
def own(name: str):
    """A file of the console's own static folder."""
    return send_from_directory(STATIC, name, max_age=300)
