"""moto's server, patched to hand the local stack's requests to moto with less around them.

Installed with the other patches by `moto_patches.install` (moto's server process only).
Each patch checks that moto's internals are what it expects, and is skipped otherwise.

Straight to the service's handler
---------------------------------
Every request to moto's server goes through a Flask app per service: a request and an
app context, URL routing, before- and after-request hooks (CORS), Flask's debug-mode
helpers, and a conversion of the handler's answer into a Flask response. For the JSON
protocols the local stack speaks on the hot path (DynamoDB, DynamoDB Streams and
Kinesis: a POST to `/` naming its operation in `X-Amz-Target`), the route is always the
same, so the patch calls that service's handler itself, with the request moto's app
would have built, and answers with the same status, headers and body
(tests/unit/test_moto_dispatch.py compares both on the same requests). Anything else
goes through the Flask app as before.

Request ids
-----------
moto gives every answer a 52-character request id, drawn one character at a time from
its random generator (52 calls), then searches the body for an XML `<RequestId>` to
replace, also for JSON answers. The patch draws the id in one call from the same
generator and alphabet, and searches only bodies that can hold the element.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from typing import Any, Final

from frolic_tools.local.patching import swap

#: X-Amz-Target prefixes whose requests skip the Flask app, and their handlers' modules
#: and classes in moto.
DIRECT_TARGETS: Final = {
    "DynamoDB_20120810": ("moto.dynamodb.responses", "DynamoHandler"),
    "DynamoDBStreams_20120810": ("moto.dynamodbstreams.responses", "DynamoDBStreamsHandler"),
    "Kinesis_20131202": ("moto.kinesis.responses", "KinesisResponse"),
}
REQUEST_ID_LENGTH: Final = 52
REQUEST_ID_ALPHABET: Final = string.ascii_letters + string.digits


def _handlers() -> dict[str, Callable[..., Any]] | None:
    import importlib  # noqa: PLC0415

    handlers: dict[str, Callable[..., Any]] = {}
    for prefix, (module_name, class_name) in DIRECT_TARGETS.items():
        try:
            handler_class = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            return None
        dispatch = getattr(handler_class, "dispatch", None)
        if not callable(dispatch):
            return None
        handlers[prefix] = dispatch
    return handlers


def patch_dispatch() -> Callable[[], None] | None:
    try:
        from botocore.exceptions import ClientError  # noqa: PLC0415
        from flask import Response  # noqa: PLC0415
        from moto.moto_api import recorder  # noqa: PLC0415
        from moto.moto_server import werkzeug_app  # noqa: PLC0415
    except ImportError:
        return None
    dispatcher = getattr(werkzeug_app, "DomainDispatcherApplication", None)
    backend_request = getattr(werkzeug_app, "BackendRequest", None)
    original = vars(dispatcher).get("__call__") if dispatcher is not None else None
    handlers = _handlers()
    if (
        dispatcher is None
        or backend_request is None
        or not callable(original)
        or handlers is None
        or not callable(getattr(recorder, "_record_request", None))
    ):
        return None

    def answer(handler: Callable[..., Any], environ: dict[str, Any]) -> Response:
        """What moto's Flask view (`convert_to_flask_response`) answers for the handler."""
        request = backend_request(environ)
        recorder._record_request(request)
        try:
            result = handler(request, request.raw_url, dict(request.headers))
        except ClientError as error:
            result = 400, {}, error.response["Error"]["Message"]
        status, headers, body = result if len(result) == 3 else (200, {}, result)
        return Response(response=body, status=status, headers=headers)

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        prefix = str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")[0]
        handler = handlers.get(prefix)
        if (
            handler is None
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != "/"
        ):
            return original(self, environ, start_response)  # type: ignore[no-any-return]
        response: Iterable[bytes] = answer(handler, environ)(environ, start_response)
        return response

    return swap(dispatcher, "__call__", call)


def patch_request_ids() -> Callable[[], None] | None:
    try:
        from moto.core import responses  # noqa: PLC0415
        from moto.moto_api._internal import mock_random  # noqa: PLC0415
    except ImportError:
        return None
    base = getattr(responses, "BaseResponse", None)
    original_ids = getattr(responses, "gen_amzn_requestid_long", None)
    original_enrich = vars(base).get("_enrich_response") if base is not None else None
    if (
        base is None
        or not callable(original_ids)
        or not isinstance(original_enrich, staticmethod)
        or not callable(getattr(mock_random, "choices", None))
    ):
        return None

    def request_id(headers: dict[str, Any] | None = None) -> str:
        value = "".join(mock_random.choices(REQUEST_ID_ALPHABET, k=REQUEST_ID_LENGTH))
        if isinstance(headers, dict):
            headers["x-amzn-requestid"] = value
        return value

    def enrich(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" in body:
            return original_enrich.__func__(headers, body)  # type: ignore[no-any-return]
        # Nothing for moto's search to replace (a bytes body makes it fail, quietly).
        if "status" in headers:
            headers["status"] = str(headers["status"])
        request_id(headers)
        return headers, body

    undo_ids = swap(responses, "gen_amzn_requestid_long", request_id)
    undo_enrich = swap(base, "_enrich_response", staticmethod(enrich))

    def undo() -> None:
        undo_enrich()
        undo_ids()

    return undo


def plain_attribute_value(value: Any) -> dict[str, Any] | None:
    """A DynamoDB attribute value as moto's serializer would write it, when it holds only
    strings, numbers, booleans, nulls and string or number sets, maps and lists of them
    (no binary, nothing moto would drop or convert); None otherwise."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((member, inner),) = value.items()
    kind = type(inner)
    if member in ("S", "N"):
        return value if kind is str else None
    if member in ("BOOL", "NULL"):
        return value if kind is bool else None
    if member in ("SS", "NS"):
        if kind is not list or any(type(v) is not str for v in inner):
            return None
        return {member: list(inner)}
    if member == "M" and kind is dict:
        entries = {k: plain_attribute_value(v) for k, v in inner.items()}
        return None if None in entries.values() else {"M": entries}
    if member == "L" and kind is list:
        items = [plain_attribute_value(v) for v in inner]
        return None if None in items else {"L": items}
    return None


def patch_plain_values() -> Callable[[], None] | None:
    try:
        from moto.core import serialize  # noqa: PLC0415
    except ImportError:
        return None
    serializer = getattr(serialize, "BaseJSONSerializer", None)
    original = vars(serializer).get("_serialize_type_structure") if serializer else None
    if serializer is None or not callable(original):
        return None

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and getattr(shape, "name", None) == "AttributeValue":
            written = plain_attribute_value(value)
            if written is not None:
                self._default_serialize(serialized, written, shape, key)
                return
        original(self, serialized, value, shape, key)

    return swap(serializer, "_serialize_type_structure", serialize_structure)
