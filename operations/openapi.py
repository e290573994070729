"""What drf-spectacular cannot see from the views, added to the whole OpenAPI document after it is
generated, so that the schema says what the APIs answer (schemathesis checks it in tests/api):

- the error answers every operation can give: 400 where it takes a body or a query, 401 and 403
  for its token, 404 where its path names something, 429 when a client is slowed down, 503 when
  PostgreSQL or Redis is away (core.api_errors);
- the command actions an operations-API caller may send: those the protocol edges registered.
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "description": "What was wrong. Field problems name the field: `field`, `problem` and `fields` "
                   "(field -> messages), or DRF's form (field -> messages); otherwise `detail` or `error`.",
    "additionalProperties": True,
}
ERRORS = {
    "400": "The request is malformed; the body names the field and the problem.",
    "401": "No token, or a token that is not valid.",
    "403": "The token's user may not do this.",
    "404": "Nothing is known by that name or id.",
    "429": "Too many requests from this client; Retry-After says when to come back.",
    "503": "The database or Redis cannot be reached; Retry-After says when to try again.",
}


def error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = ["401", "403", "429", "503"]
            parameters = operation.get("parameters", [])
            if (method in ("post", "put", "patch") or "requestBody" in operation
                    or any(p.get("in") == "query" for p in parameters)):
                codes.append("400")
            # Where the path names something, and where a query does (a box, a tag).
            if "{" in path or "400" in codes:
                codes.append("404")
            for code in codes:
                operation["responses"].setdefault(code, {
                    "description": ERRORS[code],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
            _any_bad_request(operation["responses"]["400"] if "400" in operation["responses"] else None)
    _command_actions(schemas)
    return result


def _any_bad_request(response: dict | None) -> None:
    """A view documents its field errors; a body that is no JSON at all (DRF's ParseError, with a
    ``detail``) or a list item's error (keyed by index) is a 400 of the generic shape too."""
    if not response:
        return
    media = response.get("content", {}).get("application/json")
    generic = {"$ref": "#/components/schemas/Error"}
    if media and media.get("schema") != generic:
        media["schema"] = {"anyOf": [media["schema"], generic]}


def _command_actions(schemas: dict) -> None:
    from commands.edges import command_actions

    for name in ("CommandIn", "CommandInRequest"):
        action = schemas.get(name, {}).get("properties", {}).get("action")
        if action is not None:
            action["enum"] = sorted(command_actions())
