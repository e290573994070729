"""The official OCPP 1.6 JSON schemas (shipped by the `ocpp` package), checked with an independent
validator (jsonschema, not the server's fastjsonschema), for the tests' boxes and callers."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema

SCHEMAS = files("ocpp.v16") / "schemas"
_validators: dict[str, jsonschema.Draft4Validator] = {}


def schema_check(name: str, payload: dict) -> None:
    if name not in _validators:
        _validators[name] = jsonschema.Draft4Validator(json.loads((SCHEMAS / f"{name}.json").read_text()))
    _validators[name].validate(payload)
