"""An OpenAPI 3 document per service, built from the routes and their pydantic schemas."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel

from shared.auth import public
from shared.db import ID_PATTERN
from shared.pagination import MAX_LIMIT
from shared.paths import API_V1

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        }
    },
}
_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")
# ?limit= and ?offset= exactly as shared.pagination.page_args accepts them.
MAX_OFFSET = 10**9
PAGE_QUERY = {
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
}
# Errors any operation may answer: bad request, body too large (Flask and the gateway), request line too long and
# rate limited (the gateway), a dependency down.
COMMON_ERRORS = (400, 413, 414, 429, 503)
_ID_SCHEMA = {"type": "string", "pattern": f"^{ID_PATTERN}$"}
_PARAM_TYPES = {"int": {"type": "integer"}, "string": {"type": "string"}, None: _ID_SCHEMA}


def document(
    summary: str,
    *,
    body: type[BaseModel] | dict | tuple[type[BaseModel], ...] | Callable[[Any], dict] | None = None,
    response: type[BaseModel] | dict | tuple[type[BaseModel], ...] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    query: dict[str, dict] | None = None,
    headers: dict[str, dict] | None = None,
    content_type: str = "application/json",
):
    """Attach OpenAPI metadata to a view function.

    body may be a function of the service's settings, for a schema whose bounds are settings (e.g. PERF_MAX_USERS);
    headers maps a request header's name to its parameter object (schema, description).
    """

    def decorate(view):
        view.openapi = {
            "summary": summary,
            "body": body,
            "response": response,
            "status": status,
            "errors": errors,
            "query": query or {},
            "headers": headers or {},
            "content_type": content_type,
        }
        return view

    return decorate


def _schema_ref(model: type[BaseModel] | dict | tuple, components: dict, mode: str = "validation") -> dict:
    """A reference to model's schema: as a request body (validation) or as a response (serialization)."""
    if isinstance(model, dict):
        return model
    if isinstance(model, tuple):  # one of several bodies, e.g. a declarative scenario or an admin's locustfile
        return {"anyOf": [_schema_ref(m, components, mode) for m in model]}
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document(app: Flask, title: str, version: str) -> dict[str, Any]:
    """Walk the app's url_map and describe every API route (the console's pages are not API)."""
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or not rule.rule.startswith(API_V1 + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", None) or {"summary": (view.__doc__ or rule.endpoint).strip().splitlines()[0]}
        path = _CONVERTER.sub(lambda m: "{" + m.group("name") + "}", rule.rule)
        params = [
            {
                "name": m.group("name"),
                "in": "path",
                "required": True,
                "schema": _PARAM_TYPES.get(m.group("conv"), {"type": "string"}),
            }
            for m in _CONVERTER.finditer(rule.rule)
        ]
        for name, schema in meta.get("query", {}).items():
            params.append({"name": name, "in": "query", "required": False, "schema": schema})
        for name, header in meta.get("headers", {}).items():
            params.append({"name": name, "in": "header", "required": False, **header})
        body = meta.get("body")
        if callable(body) and not isinstance(body, type):
            body = body(app.extensions["settings"])
        is_public = getattr(view, "is_public", False)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {"summary": meta["summary"], "operationId": f"{rule.endpoint}.{method.lower()}"}
            if params:
                op["parameters"] = params
            if body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _schema_ref(body, components)}},
                }
            status = str(meta.get("status", 200))
            resp_schema = meta.get("response")
            content_type = meta.get("content_type", "application/json")
            ok: dict[str, Any] = {"description": "success"}
            if status == "204":
                pass  # No Content: no body, no Content-Type
            elif resp_schema is not None:
                ok["content"] = {content_type: {"schema": _schema_ref(resp_schema, components, "serialization")}}
            elif content_type == "application/json":
                ok["content"] = {"application/json": {"schema": {"type": "object"}}}
            else:
                ok["content"] = {content_type: {"schema": {"type": "string"}}}
            responses = {status: ok}
            error_codes = set(meta.get("errors", ())) | set(COMMON_ERRORS)
            if not is_public:
                error_codes |= {401}
                op["security"] = [{"bearerAuth": []}]
            if params:
                error_codes.add(404)
            if body is not None or meta.get("query") or meta.get("headers"):
                error_codes.add(422)
            if body is not None:
                error_codes.add(415)  # a body that is not application/json
            for code in sorted(error_codes):
                responses[str(code)] = {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            op["responses"] = responses
            paths.setdefault(path, {})[method.lower()] = op
    return {
        # 3.1: its schemas are JSON Schema 2020-12, which is what pydantic emits (anyOf null, numeric
        # exclusiveMinimum); as 3.0 the document was invalid and clients could not generate requests from it.
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def openapi_blueprint(title: str, version: str) -> Blueprint:
    """Route /openapi.json: the service's OpenAPI 3 document."""
    bp = Blueprint("openapi", __name__)

    @bp.get("/openapi.json")
    @public
    def openapi_json():
        """This service's OpenAPI 3 document."""
        doc = current_app.extensions.get("openapi_doc")
        if doc is None:
            doc = current_app.extensions["openapi_doc"] = build_document(current_app, title, version)
        return jsonify(doc)

    return bp
