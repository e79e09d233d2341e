"""Which function a local request goes to: the REST API's resources as
infra/constructs/apis.py declares them, and the static pages.

Matching is API Gateway's: a `{name}` segment matches one non-empty path segment, a
greedy `{name+}` the rest of the path; an unknown path is 404 and a known path with a
method it lacks is 405 (API Gateway answers both with a 403 "Missing Authentication
Token"; plain statuses are more useful locally).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class RestRoute:
    method: str  # or ANY
    resource: str
    function: str
    #: Reached without a token (API Gateway's authorizer is off for it).
    public: bool = False


REST_ROUTES: Final = (
    RestRoute("POST", "/plays", "ingest"),
    RestRoute("GET", "/plays/{playId}", "ingest"),
    RestRoute("POST", "/ws-ticket", "ingest"),
    RestRoute("GET", "/me/coupons", "ingest"),
    RestRoute("ANY", "/admin/{proxy+}", "admin"),
    RestRoute("GET", "/openapi.json", "admin", public=True),
    RestRoute("GET", "/games", "ingest", public=True),
)


@dataclass(frozen=True, slots=True)
class RestMatch:
    route: RestRoute
    path_parameters: dict[str, str]


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    allowed: tuple[str, ...]


def _match_resource(resource: str, path: str) -> dict[str, str] | None:
    template = resource.strip("/").split("/")
    segments = path.strip("/").split("/") if path.strip("/") else []
    if len(path) > 1 and path.endswith("/"):
        return None
    parameters: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[index:]
            if not rest or any(not segment for segment in rest):
                return None
            parameters[part[1:-2]] = "/".join(rest)
            return parameters
        if index >= len(segments) or not segments[index]:
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = segments[index]
        elif part != segments[index]:
            return None
    return parameters if len(segments) == len(template) else None


def match_rest(method: str, path: str) -> RestMatch | MethodNotAllowed | None:
    """The route for a (decoded) path, 405's allowed methods, or None when unknown."""
    allowed: list[str] = []
    for route in REST_ROUTES:
        parameters = _match_resource(route.resource, path)
        if parameters is None:
            continue
        if route.method in ("ANY", method):
            return RestMatch(route, parameters)
        allowed.append(route.method)
    return MethodNotAllowed(tuple(allowed)) if allowed else None


# -- static pages -------------------------------------------------------------------------

#: Page paths that are not file names.
PAGES: Final = {"/": "index.html", "/admin": "admin.html"}
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
    ".webmanifest": "application/manifest+json",
}


def page_redirect(path: str) -> str | None:
    """Where a page path with a trailing slash (`/admin/`) is sent, as CloudFront does
    (infra/constructs/page_paths.js): the page's relative URLs only resolve without it."""
    if len(path) > 1 and path.endswith("/") and path[:-1] in PAGES:
        return path[:-1]
    return None


def static_file(web_root: Path | None, path: str) -> Path | None:
    """The file under `web_root` a GET for `path` (still URL-encoded) serves, if any.

    Every decoded segment must be a plain name (no '..', no hidden files, no
    separators smuggled in encoded), and the resolved file must still lie inside the
    root, so neither a crafted path nor a symlink can reach anything else.
    """
    if web_root is None:
        return None
    name = PAGES.get(path)
    if name is None:
        segments = [unquote(segment) for segment in path.lstrip("/").split("/")]
        if not segments or any(
            not s or s.startswith(".") or "/" in s or "\\" in s or "\0" in s for s in segments
        ):
            return None
        name = "/".join(segments)
    root = web_root.resolve()
    try:
        candidate = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def content_type(path: Path) -> str:
    known = CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"
