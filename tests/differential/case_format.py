"""The case and observation formats of the differential tests, as executable checks.

CASE_FORMAT.md is the specification; this module enforces it. Both checkers raise
FormatError naming the offending path (``case.client.disconnect``). No third-party
packages: the checks are written out by hand so that they run on Debian's python3.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

FORMAT_VERSION = 1

MIDDLEWARE_KINDS = (
    "base_http_passthrough",
    "base_http_reads_body",
    "pure_asgi_cm",
    "server_error",
    "exception",
)
ENDPOINT_KINDS = ("async", "sync")
RESPONSE_KINDS = ("plain", "streaming")
READS_BODY = ("none", "body", "stream")
RAISES = ("never", "before_start", "in_stream", "in_background")
BACKGROUND_KINDS = ("async", "sync")
SEND_AFTER_DISCONNECT = ("drop", "raise")
SPEC_VERSIONS = ("2.3", "2.4")

DEFAULT_TIMEBOX_S = 2.0
DEFAULT_STEP_BUDGET = 100_000

_DISCONNECT_RE = re.compile(r"^(never|before_request|after_send:(\d+)|mid_body:(\d+))$")


class FormatError(ValueError):
    pass


def _fail(path: str, why: str) -> None:
    raise FormatError(f"{path}: {why}")


def _expect_keys(obj: Any, path: str, required: Tuple[str, ...],
                 optional: Tuple[str, ...] = ()) -> None:
    if not isinstance(obj, dict):
        _fail(path, "expected an object")
    missing = [key for key in required if key not in obj]
    if missing:
        _fail(path, f"missing {', '.join(missing)}")
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        _fail(path, f"unknown field(s) {', '.join(unknown)}")


def _expect_enum(value: Any, path: str, allowed: Tuple[str, ...]) -> None:
    if value not in allowed:
        _fail(path, f"{value!r} is not one of {', '.join(allowed)}")


def _expect_int(value: Any, path: str, low: int = 0, high: Optional[int] = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(path, f"expected an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        _fail(path, f"{value} is out of range [{low}, {high if high is not None else 'inf'}]")


def parse_disconnect(text: str) -> Tuple[str, int]:
    """"after_send:3" -> ("after_send", 3); "never" -> ("never", 0)."""
    match = _DISCONNECT_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise FormatError(f"case.client.disconnect: {text!r} is not never, before_request, "
                          "after_send:K or mid_body:K")
    if match.group(2) is not None:
        return "after_send", int(match.group(2))
    if match.group(3) is not None:
        return "mid_body", int(match.group(3))
    return match.group(1), 0


def validate_case(case: Any) -> None:
    _expect_keys(case, "case", ("format", "id", "stack", "client", "server"), ("limits",))
    if case["format"] != FORMAT_VERSION:
        _fail("case.format", f"expected {FORMAT_VERSION}")
    if not isinstance(case["id"], str) or not case["id"]:
        _fail("case.id", "expected a non-empty string")

    stack = case["stack"]
    _expect_keys(stack, "case.stack", ("middleware", "endpoint"))
    if not isinstance(stack["middleware"], list):
        _fail("case.stack.middleware", "expected a list")
    for index, middleware in enumerate(stack["middleware"]):
        path = f"case.stack.middleware[{index}]"
        _expect_keys(middleware, path, ("kind",))
        _expect_enum(middleware["kind"], path + ".kind", MIDDLEWARE_KINDS)

    endpoint = stack["endpoint"]
    path = "case.stack.endpoint"
    _expect_keys(endpoint, path, ("kind", "response", "chunks", "chunk_pause", "reads_body",
                                  "raises", "background"), ("cleanup",))
    _expect_enum(endpoint["kind"], path + ".kind", ENDPOINT_KINDS)
    _expect_enum(endpoint["response"], path + ".response", RESPONSE_KINDS)
    _expect_int(endpoint["chunks"], path + ".chunks", 0, 64)
    _expect_int(endpoint["chunk_pause"], path + ".chunk_pause", 0, 64)
    _expect_enum(endpoint["reads_body"], path + ".reads_body", READS_BODY)
    _expect_enum(endpoint["raises"], path + ".raises", RAISES)
    background = endpoint["background"]
    if background is not None:
        _expect_keys(background, path + ".background", ("kind", "pauses"))
        _expect_enum(background["kind"], path + ".background.kind", BACKGROUND_KINDS)
        _expect_int(background["pauses"], path + ".background.pauses", 0, 64)
        if background["kind"] == "sync" and background["pauses"] != 0:
            _fail(path + ".background.pauses", "a sync background task cannot pause (must be 0)")
    if endpoint["response"] == "plain":
        if endpoint["chunks"] != 0 or endpoint["chunk_pause"] != 0:
            _fail(path, "a plain response has chunks 0 and chunk_pause 0")
        if endpoint["raises"] == "in_stream":
            _fail(path + ".raises", "in_stream needs a streaming response")
    if endpoint["kind"] == "sync":
        if endpoint["reads_body"] != "none":
            _fail(path + ".reads_body", "a sync endpoint cannot await the body (must be none)")
        if endpoint["chunk_pause"] != 0:
            _fail(path + ".chunk_pause", "a sync iterator cannot pause (must be 0)")
    if "cleanup" in endpoint:
        if not isinstance(endpoint["cleanup"], bool):
            _fail(path + ".cleanup", "expected true or false")
        if endpoint["cleanup"] and (endpoint["response"] != "streaming" or endpoint["kind"] != "async"):
            _fail(path + ".cleanup", "only an async streaming endpoint's body iterator has a finally")
    if endpoint["raises"] == "in_background" and background is None:
        _fail(path + ".raises", "in_background needs a background task")

    client = case["client"]
    _expect_keys(client, "case.client", ("body_chunks", "disconnect"))
    if not isinstance(client["body_chunks"], list):
        _fail("case.client.body_chunks", "expected a list")
    for index, size in enumerate(client["body_chunks"]):
        _expect_int(size, f"case.client.body_chunks[{index}]", 0, 1 << 20)
    point, count = parse_disconnect(client["disconnect"])
    if point == "after_send" and count < 1:
        _fail("case.client.disconnect", "after_send:K needs K >= 1")
    if point == "mid_body" and count >= len(client["body_chunks"]):
        _fail("case.client.disconnect", "mid_body:K needs 0 <= K < len(body_chunks)")

    server = case["server"]
    _expect_keys(server, "case.server", ("send_after_disconnect", "spec_version"))
    _expect_enum(server["send_after_disconnect"], "case.server.send_after_disconnect",
                 SEND_AFTER_DISCONNECT)
    _expect_enum(server["spec_version"], "case.server.spec_version", SPEC_VERSIONS)

    if "limits" in case:
        limits = case["limits"]
        _expect_keys(limits, "case.limits", (), ("timebox_s", "step_budget"))
        if "timebox_s" in limits and not (isinstance(limits["timebox_s"], (int, float))
                                          and limits["timebox_s"] > 0):
            _fail("case.limits.timebox_s", "expected a positive number")
        if "step_budget" in limits:
            _expect_int(limits["step_budget"], "case.limits.step_budget", 1)


# ---- observations -----------------------------------------------------------------

# Event name -> (required fields, optional fields), besides "ev".
EVENT_FIELDS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "request_started": ((), ()),
    "received": (("message",), ()),
    "sent": (("message", "origin", "result"), ("exception",)),
    "client_disconnected": (("point",), ()),
    "app_returned": ((), ()),
    "app_raised": (("exception",), ()),
    "app_hung": (("reason",), ()),
    "connection_closed": (("reason",), ()),
    "dispatch_started": (("mw",), ()),
    "dispatch_body_read": (("mw", "bytes"), ()),
    "call_next_returned": (("mw", "status"), ()),
    "dispatch_raised": (("mw", "exception"), ()),
    "context_entered": (("mw",), ()),
    "context_exit_started": (("mw", "exception"), ()),
    "context_exited": (("mw",), ()),
    "context_exit_cancelled": (("mw", "exception"), ()),
    "endpoint_started": ((), ()),
    "endpoint_body_read": (("bytes",), ()),
    "endpoint_returned": ((), ()),
    "endpoint_raised": (("exception",), ()),
    "stream_chunk": (("index",), ()),
    "stream_closed": (("how", "by"), ()),
    "background_started": ((), ()),
    "background_finished": ((), ()),
    "background_raised": (("exception",), ()),
    "background_cancelled": (("exception",), ()),
}

_EXCEPTION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[.*\])?$")


def _check_exception(value: Any, path: str, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, str) or not _EXCEPTION_RE.match(value):
        _fail(path, f"expected an exception name, got {value!r}")


def _check_message(message: Any, path: str, direction: str) -> None:
    if not isinstance(message, dict) or "type" not in message:
        _fail(path, "expected a message object with a type")
    kind = message["type"]
    if direction == "receive":
        if kind == "http.request":
            _expect_keys(message, path, ("type", "body_len", "more_body"))
            _expect_int(message["body_len"], path + ".body_len")
            if not isinstance(message["more_body"], bool):
                _fail(path + ".more_body", "expected a boolean")
        elif kind == "http.disconnect":
            _expect_keys(message, path, ("type",))
        else:
            _fail(path + ".type", f"unexpected received message {kind!r}")
        return
    if kind == "http.response.start":
        _expect_keys(message, path, ("type", "status", "headers"))
        _expect_int(message["status"], path + ".status", 100, 599)
        if not isinstance(message["headers"], list) or not all(
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str)
                                                                 for part in pair)
                for pair in message["headers"]):
            _fail(path + ".headers", "expected a list of [name, value] strings")
    elif kind == "http.response.body":
        _expect_keys(message, path, ("type", "body", "more_body"))
        if not isinstance(message["body"], str):
            _fail(path + ".body", "expected a string")
        if not isinstance(message["more_body"], bool):
            _fail(path + ".more_body", "expected a boolean")
    else:
        _expect_keys(message, path, ("type",))  # anything else an app might send


def validate_observation(observation: Any) -> None:
    _expect_keys(observation, "observation",
                 ("format", "id", "app", "client", "background", "contexts", "events"),
                 ("meta", "error"))
    if observation["format"] != FORMAT_VERSION:
        _fail("observation.format", f"expected {FORMAT_VERSION}")
    if "error" in observation:
        _fail("observation.error", str(observation["error"]))

    events = observation["events"]
    if not isinstance(events, list):
        _fail("observation.events", "expected a list")
    for index, event in enumerate(events):
        path = f"observation.events[{index}]"
        if not isinstance(event, dict) or event.get("ev") not in EVENT_FIELDS:
            _fail(path, f"unknown event {event!r}")
        required, optional = EVENT_FIELDS[event["ev"]]
        _expect_keys(event, path, ("ev",) + required, optional)
        for key in ("mw", "bytes", "index"):
            if key in event:
                _expect_int(event[key], f"{path}.{key}")
        if "exception" in event:
            _check_exception(event["exception"], path + ".exception",
                             nullable=event["ev"] == "context_exit_started")
        if event["ev"] == "received":
            _check_message(event["message"], path + ".message", "receive")
        if event["ev"] == "sent":
            _check_message(event["message"], path + ".message", "send")
            _expect_enum(event["origin"], path + ".origin", ("app", "server"))
            _expect_enum(event["result"], path + ".result", ("delivered", "dropped", "raised"))
            if (event["result"] == "raised") != ("exception" in event):
                _fail(path, "exception is present exactly when result is raised")
        if event["ev"] == "app_hung":
            _expect_enum(event["reason"], path + ".reason", ("timebox", "step_budget"))
        if event["ev"] == "connection_closed":
            _expect_enum(event["reason"], path + ".reason",
                         ("exception_after_start", "incomplete_response"))
        if event["ev"] == "client_disconnected":
            parse_disconnect(event["point"])

    app = observation["app"]
    _expect_keys(app, "observation.app", ("outcome", "exception", "hung_reason"))
    _expect_enum(app["outcome"], "observation.app.outcome", ("returned", "raised", "hung"))
    _check_exception(app["exception"], "observation.app.exception",
                     nullable=app["outcome"] != "raised")
    if (app["outcome"] == "raised") != (app["exception"] is not None):
        _fail("observation.app.exception", "set exactly when the outcome is raised")
    if (app["outcome"] == "hung") != (app["hung_reason"] is not None):
        _fail("observation.app.hung_reason", "set exactly when the outcome is hung")

    client = observation["client"]
    _expect_keys(client, "observation.client", ("messages", "status", "body", "complete",
                                                "disconnected", "connection_closed"))
    for index, message in enumerate(client["messages"]):
        path = f"observation.client.messages[{index}]"
        if not isinstance(message, dict) or "at" not in message:
            _fail(path, "expected a message with at")
        _expect_int(message["at"], path + ".at", 0, len(events) - 1)
        _check_message({key: value for key, value in message.items() if key != "at"},
                       path, "send")
    if client["status"] is not None:
        _expect_int(client["status"], "observation.client.status", 100, 599)
    if not isinstance(client["body"], str):
        _fail("observation.client.body", "expected a string")
    for key in ("complete", "disconnected"):
        if not isinstance(client[key], bool):
            _fail(f"observation.client.{key}", "expected a boolean")
    if client["connection_closed"] is not None:
        _expect_enum(client["connection_closed"], "observation.client.connection_closed",
                     ("exception_after_start", "incomplete_response"))

    background = observation["background"]
    if background is not None:
        _expect_keys(background, "observation.background", ("started", "end"))
        if not isinstance(background["started"], bool):
            _fail("observation.background.started", "expected a boolean")
        _expect_enum(background["end"], "observation.background.end",
                     ("finished", "raised", "cancelled", "running", "not_started"))

    contexts = observation["contexts"]
    if not isinstance(contexts, list):
        _fail("observation.contexts", "expected a list")
    for index, context in enumerate(contexts):
        path = f"observation.contexts[{index}]"
        _expect_keys(context, path, ("mw", "entered", "exit", "exit_exception"))
        _expect_int(context["mw"], path + ".mw")
        _expect_enum(context["exit"], path + ".exit",
                     ("none", "running", "done", "cancelled"))
        _check_exception(context["exit_exception"], path + ".exit_exception", nullable=True)


def summarise(events: List[Dict[str, Any]], middleware_kinds: List[str],
              has_background: bool) -> Dict[str, Any]:
    """The summary sections of an observation, derived from its event list only.

    Kept here, not in the runner, so that a C++ implementation can emit only the events
    and have the same summary computed (or check its own against this one).
    """
    app: Dict[str, Any] = {"outcome": "hung", "exception": None, "hung_reason": None}
    client: Dict[str, Any] = {"messages": [], "status": None, "body": "", "complete": False,
                              "disconnected": False, "connection_closed": None}
    background: Optional[Dict[str, Any]] = (
        {"started": False, "end": "not_started"} if has_background else None)
    contexts = {index: {"mw": index, "entered": False, "exit": "none", "exit_exception": None}
                for index, kind in enumerate(middleware_kinds) if kind == "pure_asgi_cm"}
    for at, event in enumerate(events):
        name = event["ev"]
        if name == "app_returned":
            app["outcome"] = "returned"
        elif name == "app_raised":
            app["outcome"], app["exception"] = "raised", event["exception"]
        elif name == "app_hung":
            app["outcome"], app["hung_reason"] = "hung", event["reason"]
        elif name == "sent" and event["result"] == "delivered":
            message = dict(event["message"])
            client["messages"].append({"at": at, **message})
            if message["type"] == "http.response.start" and client["status"] is None:
                client["status"] = message["status"]
            elif message["type"] == "http.response.body":
                client["body"] += message["body"]
                if not message["more_body"]:
                    client["complete"] = True
        elif name == "client_disconnected":
            client["disconnected"] = True
        elif name == "connection_closed":
            client["connection_closed"] = event["reason"]
        elif name.startswith("background_") and background is not None:
            if name == "background_started":
                background["started"], background["end"] = True, "running"
            else:
                background["end"] = name[len("background_"):]
        elif name.startswith("context_") and event["mw"] in contexts:
            context = contexts[event["mw"]]
            if name == "context_entered":
                context["entered"] = True
            elif name == "context_exit_started":
                context["exit"], context["exit_exception"] = "running", event["exception"]
            elif name == "context_exited":
                context["exit"] = "done"
            elif name == "context_exit_cancelled":
                context["exit"] = "cancelled"
    return {"app": app, "client": client, "background": background,
            "contexts": [contexts[index] for index in sorted(contexts)]}
