"""The configuration reference (docs/configuration.md), generated from the schema so it cannot drift."""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from vigil.config.schema import VigilConfig

_BOUNDS = (
    (annotated_types.Ge, "≥", "ge"),
    (annotated_types.Gt, ">", "gt"),
    (annotated_types.Le, "≤", "le"),
    (annotated_types.Lt, "<", "lt"),
)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The config models an annotation holds (directly, in a union, a tuple or an Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_models(arg))
    return out


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if origin is typing.Literal:
        return " or ".join(f'"{a}"' for a in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(field: FieldInfo) -> str:
    parts = []
    for meta in field.metadata:
        for kind, sign, attr in _BOUNDS:
            if isinstance(meta, kind):
                parts.append(f"{sign} {getattr(meta, attr)}")
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if value in ((), None):
        return "—" if value is None else "[]"
    return f"`{value}`"


Nested = list[tuple[str, str, type[BaseModel]]]  # (key prefix, heading note, model)


def _section(model: type[BaseModel], prefix: str, note: str, out: list[str], nested: Nested) -> None:
    out.append(f"## `{prefix or 'top level'}`{note}\n")
    if model.__doc__:
        out.append(model.__doc__.strip().splitlines()[0] + "\n")
    out.append("| key | type | default | bounds | what |")
    out.append("|---|---|---|---|---|")
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}" if prefix else name
        models = _models(field.annotation)
        what = (field.description or "").replace("|", "\\|").replace("\n", " ")
        if models:
            what = what or f"see `{key}` below"
            for sub in models:
                note = "" if len(models) == 1 else f" with `type: {_literal_type(sub)}`"
                nested.append((key, note, sub))
        kind, default, bounds = _type_name(field.annotation), _default(field), _bounds(field)
        out.append(f"| `{key}` | {kind} | {default} | {bounds} | {what} |")
    out.append("")


def _literal_type(model: type[BaseModel]) -> str:
    field = model.model_fields.get("type")
    return str(field.default) if field is not None else model.__name__


def reference() -> str:
    """Markdown: every setting of :class:`VigilConfig`, its type, default, bounds and meaning."""
    out = [
        "# Configuration reference",
        "",
        "Generated from `src/vigil/config/schema.py` by `vigil config reference`; do not edit by hand.",
        "",
        "Settings come from the YAML file given with `--config` (loaded safely; unknown keys are",
        "errors), then from environment variables `VIGIL__SECTION__KEY=value` (read as YAML scalars),",
        "e.g. `VIGIL__SERVER__PORT=9000` or `VIGIL__ALERTS__MQTT__PASSWORD=...`. Lists (`cameras`,",
        "`alerts.webhooks`) hold mappings with the keys of their section below.",
        "",
    ]
    queue: Nested = [("", "", VigilConfig)]
    while queue:
        prefix, note, model = queue.pop(0)
        nested: Nested = []
        _section(model, prefix, note, out, nested)
        queue.extend(nested)
    return "\n".join(out).rstrip() + "\n"
