"""Turns pydantic's validation errors into field paths and sentences a developer can act on."""

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from beacon.errors import FieldError, InvalidRequestError

_JSON_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    Decimal: "a number",
    list: "an array",
    dict: "an object",
    type(None): "null",
}

_EXPECTED = {
    "int_type": "an integer",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "an array",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
}


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("charges", 2, "amount")`` becomes ``charges[2].amount``; the empty path is ``body``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _json_type(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), "a value of another type")


def _message(error: ErrorDetails, field: str) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return f"{field} is required"
    if "field" in ctx:
        # our own PydanticCustomError: its message is already a whole sentence naming the field
        return str(error["msg"])
    if kind in _EXPECTED:
        return f"{field} must be {_EXPECTED[kind]}, got {_json_type(error.get('input'))}"
    if kind == "greater_than_equal":
        return f"{field} must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"{field} must be at most {ctx['le']}"
    if kind == "too_short":
        return f"{field} must hold at least {ctx['min_length']} item(s)"
    if kind == "too_long":
        return f"{field} must hold at most {ctx['max_length']} items; got {ctx.get('actual_length', 'more')}"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        # the rules name the bare field ("created_at must..."); inside a bulk, say which charge
        leaf = field.rsplit(".", 1)[-1]
        return field + message[len(leaf) :] if field != leaf and message.startswith(f"{leaf} ") else message
    return f"{field}: {error['msg']}"


def to_field_errors(exc: ValidationError) -> list[FieldError]:
    """Every problem pydantic found, in document order, each naming its field."""
    errors = []
    for error in exc.errors(include_url=False):
        ctx = error.get("ctx") or {}
        field = str(ctx["field"]) if "field" in ctx else field_path(error["loc"])
        errors.append(FieldError(field=field, message=_message(error, field)))
    return errors


def parse_model[M: BaseModel](model: type[M], data: Any, *, context: dict[str, Any] | None = None) -> M:
    """Validate ``data`` against ``model`` (with the validation ``context``) or raise ``InvalidRequestError``
    listing every bad field."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = to_field_errors(exc)
        raise InvalidRequestError(errors[0].message, errors=errors) from None
