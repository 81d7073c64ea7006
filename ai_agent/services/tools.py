"""Admin-configured HTTP actions the AI may call (order status, parcel tracking). The
model sees a tool's name, description and input schema; the URL and the authorization
header stay here. Inputs are validated against the schema before any request; every
failure becomes a result the model (or the offline engine) can act on, never an
exception."""

import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import jsonschema
from django.utils.translation import gettext as _

from ..models import AgentTool

PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")
# What a tool's answer may weigh before it is cut: it goes into a prompt and a note.
MAX_RESULT_CHARS = 4000
USER_AGENT = "Switchboard-AI-tool/1.0"


@dataclass
class ToolResult:
    tool: str
    arguments: dict
    ok: bool
    data: object = None  # the parsed JSON answer (or its text)
    error: str = ""
    status: int | None = None
    ms: int = 0
    extra: dict = field(default_factory=dict)

    def as_log(self) -> dict:
        return {
            "tool": self.tool,
            "arguments": self.arguments,
            "ok": self.ok,
            "status": self.status,
            "ms": self.ms,
            "error": self.error,
            "result": _clip(self.data),
        }

    def for_model(self) -> str:
        if not self.ok:
            return json.dumps({"error": self.error}, ensure_ascii=False)
        return json.dumps({"result": _clip(self.data)}, ensure_ascii=False)[:MAX_RESULT_CHARS]


def _clip(data):
    text = json.dumps(data, ensure_ascii=False, default=str)
    return data if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS]


def tool_schema(tool: AgentTool) -> dict:
    """The tool as the Chat Completions API describes functions."""
    parameters = tool.input_schema or {"type": "object", "properties": {}}
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": parameters,
        },
    }


def schema_problem(schema: dict) -> str:
    """Why `schema` is not a usable input schema ("" when it is): for the admin form."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return error.message
    if schema.get("type") != "object":
        return _('The input schema must describe an object ("type": "object").')
    return ""


def _request_parts(tool: AgentTool, arguments: dict) -> tuple[str, dict]:
    """The URL with its {placeholders} filled (URL-encoded) and the inputs left over."""
    rest = dict(arguments)

    def fill(match: re.Match) -> str:
        return quote(str(rest.pop(match[1], "")), safe="")

    return PLACEHOLDER.sub(fill, tool.url), rest


def tool_call(tool: AgentTool, arguments: dict) -> ToolResult:
    started = time.monotonic()
    result = ToolResult(tool=tool.name, arguments=arguments, ok=False)
    try:
        jsonschema.validate(arguments, tool.input_schema or {"type": "object"})
    except jsonschema.ValidationError as error:
        result.error = _("Invalid input: %(reason)s") % {"reason": error.message}
        return result
    url, rest = _request_parts(tool, arguments)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if tool.auth_header:
        headers["Authorization"] = tool.auth_header
    try:
        with httpx.Client(timeout=tool.timeout, follow_redirects=False) as client:
            if tool.method == AgentTool.Method.POST:
                response = client.post(url, json=rest, headers=headers)
            else:
                response = client.get(url, params=rest, headers=headers)
    except httpx.TimeoutException:
        result.error = _("The tool did not answer within %(seconds)s s.") % {
            "seconds": f"{tool.timeout:g}"
        }
    except httpx.HTTPError:
        result.error = _("The tool could not be reached.")
    else:
        result.status = response.status_code
        try:
            result.data = response.json()
        except ValueError:
            result.data = response.text[:MAX_RESULT_CHARS]
        if response.is_success:
            result.ok = True
        else:
            result.error = _("The tool answered %(status)s.") % {"status": response.status_code}
    result.ms = int((time.monotonic() - started) * 1000)
    return result


def _lookup(data, path: str):
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def tool_answer(template: str, result: ToolResult) -> str:
    """The offline engine's reply: `template` with {placeholders} from the inputs and the
    result's fields. A placeholder with no value is left out; an answer without any value
    from the result is "" (nothing useful to say)."""
    found = False

    def fill(match: re.Match) -> str:
        nonlocal found
        name = match[1]
        value = _lookup(result.data, name)
        if value is not None and not isinstance(value, dict | list):
            found = True
            return str(value)
        return str(result.arguments.get(name, ""))

    text = PLACEHOLDER.sub(fill, template).strip()
    return text if found else ""
