"""Reading the Copilot's Grafana dashboard the way Grafana would, without Grafana.

Pure helpers for tests/integration/test_grafana_dashboard.py:

- :func:`interpolate` renders Grafana's variable syntax (``$var``, ``${var}``, ``${var:format}``,
  ``[[var]]``, ``${__from}``/``${__to}`` with ``:date:iso``, ``${__data.fields.X}``) for the formats the
  dashboard uses; an unknown variable raises :class:`UnknownVariable`, as a typo in the dashboard would
  otherwise reach the API as literal text.
- :func:`dashboard_requests` lists every HTTP request the dashboard's panels make (the Business Forms
  update request and the Infinity queries), still as templates.
- :func:`find_operation`, :func:`undeclared_query_params` and :func:`body_errors` check a rendered
  request against the API's OpenAPI document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import yaml

ROOT = Path(__file__).resolve().parent.parent
GRAFANA = ROOT / "grafana"
DASHBOARD = GRAFANA / "copilot" / "copilot.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards"

# Grafana's own variable syntax: $name, [[name:format]], ${name.field.path:format}
VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
BUILTINS = frozenset({"__from", "__to", "__data", "__value", "__interval", "__rate_interval", "__dashboard"})

Value = str | list[str]
"""A variable's current value: one string, or the list of all values when "All" is selected."""


class UnknownVariable(KeyError):
    """The template names a variable the dashboard does not define."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    def millis(self, which: str) -> int:
        instant = self.start if which == "__from" else self.end
        return int(instant.timestamp() * 1000)


def iso_millis(instant: datetime) -> str:
    """``${__from:date:iso}`` as Grafana renders it (moment's toISOString: UTC, milliseconds, ``Z``)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _format(value: Value, fmt: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    if fmt == "json":
        return json.dumps(value)
    if fmt == "raw":
        return ",".join(values)
    if fmt == "regex":
        escaped = [re.escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "queryparam":
        raise AssertionError("queryparam needs the variable name; not used by the dashboard")
    if fmt == "percentencode":
        return ",".join(quote(v, safe="") for v in values)
    if fmt in (None, "glob"):
        return values[0] if len(values) == 1 else "{" + ",".join(values) + "}"
    raise AssertionError(f"the test renderer does not know Grafana's {fmt!r} format")


def interpolate(
    text: str,
    variables: Mapping[str, Value],
    time_range: TimeRange,
    *,
    fields: Mapping[str, Any] | None = None,
    value: Any = None,
) -> str:
    """``text`` with every Grafana variable replaced; ``fields``/``value`` are a table row's for data links."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        path = match.group(5)
        fmt = match.group(3) or match.group(6)
        if name in ("__from", "__to"):
            if fmt == "date:iso":
                return iso_millis(time_range.start if name == "__from" else time_range.end)
            if fmt is None:
                return str(time_range.millis(name))
            raise AssertionError(f"the test renderer does not know {name}:{fmt}")
        if name == "__data":
            assert fields is not None and path and path.startswith("fields."), match.group(0)
            return str(fields[path.removeprefix("fields.")])
        if name == "__value":
            assert value is not None and path in (None, "raw", "text"), match.group(0)
            return str(value)
        if name not in variables:
            raise UnknownVariable(name)
        return _format(variables[name], fmt)

    return VARIABLE.sub(replace, text)


def references(text: str) -> set[str]:
    """The variable names a template refers to."""
    return {m.group(1) or m.group(2) or m.group(4) for m in VARIABLE.finditer(text)}


def strings(node: Any) -> Iterator[str]:
    """Every string anywhere in a JSON document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for item in node.values():
            yield from strings(item)
    elif isinstance(node, Sequence):
        for item in node:
            yield from strings(item)


def load_dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _expand_env(text: str, env: Mapping[str, str]) -> str:
    """Grafana's provisioning expansion of ``$NAME`` and ``${NAME}`` (unset -> empty)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), text)


def load_datasources(env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The provisioned datasources by uid, with ``env`` (default: none set) expanded as Grafana would."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(DATASOURCES.glob("*.yaml")):
        document = yaml.safe_load(_expand_env(path.read_text(), env or {}))
        for source in document.get("datasources", []):
            found[source["uid"]] = source
    return found


def load_dashboard_providers() -> list[dict[str, Any]]:
    providers: list[dict[str, Any]] = []
    for path in sorted(DASHBOARD_PROVIDERS.glob("*.yaml")):
        providers.extend(yaml.safe_load(path.read_text()).get("providers", []))
    return providers


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def variables_by_name(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


@dataclass
class RequestTemplate:
    """One HTTP request a panel makes, before interpolation."""

    panel: str
    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload_code: str | None = None
    """Business Forms "custom payload" JavaScript (``context`` -> body), run after interpolation."""
    response_code: str | None = None
    """Business Forms code run with ``context.panel.response`` after the request."""
    columns: list[dict[str, str]] = field(default_factory=list)


def dashboard_requests(
    dashboard: Mapping[str, Any], datasources: Mapping[str, Mapping[str, Any]]
) -> list[RequestTemplate]:
    """Every request: form update requests, and Infinity URL queries (with their datasource's bearer token)."""
    found: list[RequestTemplate] = []
    for panel in panels(dashboard):
        if panel["type"] == "volkovlabs-form-panel":
            options = panel["options"]
            for part in ("initial", "update"):
                request = options[part]
                if request["method"] in ("-", "datasource"):
                    assert part == "initial" and not request.get("url"), f"{panel['title']}: {part} makes no request"
                    continue
                found.append(
                    RequestTemplate(
                        panel=panel["title"],
                        method=request["method"],
                        url=request["url"],
                        headers=[(h["name"], h["value"]) for h in request.get("header", [])]
                        + [("Content-Type", request["contentType"])],
                        payload_code=request["getPayload"] if request.get("payloadMode") == "custom" else None,
                        response_code=request.get("code") or None,
                    )
                )
        for target in panel.get("targets", []):
            source = datasources[(target.get("datasource") or panel["datasource"])["uid"]]
            if source["type"] != "yesoreyeram-infinity-datasource" or target.get("source") != "url":
                continue
            options = target["url_options"]
            headers = [(h["key"], h["value"]) for h in options.get("headers", [])]
            if source.get("jsonData", {}).get("auth_method") == "bearerToken":
                headers.append(("Authorization", f"Bearer {source.get('secureJsonData', {}).get('bearerToken', '')}"))
            found.append(
                RequestTemplate(
                    panel=panel["title"],
                    method=options["method"],
                    url=target["url"],
                    params=[(p["key"], p["value"]) for p in options.get("params", [])],
                    headers=headers,
                    columns=target["columns"],
                )
            )
    return found


# --- OpenAPI -----------------------------------------------------------------------------------


def find_operation(openapi: Mapping[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The (path template, operation) of ``openapi`` that ``method path`` reaches; AssertionError if none."""
    for template, item in openapi["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return template, operation
    raise AssertionError(f"{method} {path} is not in the API's OpenAPI document")


def undeclared_query_params(operation: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    return [name for name in names if name not in declared]


def body_errors(openapi: Mapping[str, Any], operation: Mapping[str, Any], body: Any) -> list[str]:
    """Why ``body`` does not validate against the operation's JSON request schema (``$ref``s resolved)."""
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    document = {**schema, "components": openapi.get("components", {})}
    validator = jsonschema_rs.Draft202012Validator(document, validate_formats=True)
    return [
        f"{'/'.join(map(str, error.instance_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(body)
    ]
