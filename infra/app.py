"""The CDK app: `cdk synth`/`cdk deploy` run it (cdk.json), and so does `make synth`.

Context (all optional, `-c key=value`):
  stage                 stage name, also in the stack name Frolic-<stage> (default dev)
  shardCount            provision the play stream with this many shards (default: on demand)
  parallelizationFactor concurrent batches per shard for allocate and deliver, 1-10 (1)
  alarmEmail            e-mail address subscribed to the alarm topic
  retainData            "false" lets a throwaway stage delete its tables, pool and key
  signInDomain          prefix of the managed login's domain,
                        <prefix>.auth.<region>.amazoncognito.com (default
                        frolic-<stage>-<account>)
  allowedOrigins        web origins, besides the stack's own CloudFront site, whose pages
                        may call the REST API (comma-separated, e.g.
                        https://play.example.com,http://localhost:8000)
  crmEndpoint           an https:// URL that gets every Frolic event (EventBridge API
                        destination; set the CrmKey secret to the key it expects)
  crmWithCodes          "true" sends coupon codes to the CRM too (held back by default)

Synth is offline: no Docker, no AWS credentials, no lookups. The stack is environment
agnostic unless CDK_DEFAULT_ACCOUNT/REGION are set (the CDK CLI sets them on deploy).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as `python3 infra/app.py`, Python puts infra/ first on the path, where
# infra/constructs would shadow the `constructs` library: put the repository root (for
# `infra`) and the layer folder (for `frolic`, in a clone without `pip install -e .`)
# there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "infra":
    sys.path[:1] = [str(ROOT), str(ROOT / "layers" / "common" / "python")]

from aws_cdk import App, Environment  # noqa: E402

from infra.build_layer import DEPS_LAYER_DIR  # noqa: E402
from infra.stack import FrolicStack  # noqa: E402

MAX_PARALLELIZATION_FACTOR = 10
DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
#: Words Cognito refuses in a domain prefix.
RESERVED_WORDS = ("aws", "amazon", "cognito")
#: An origin: scheme, host and optional port; no path, no slash (any case, see _origins).
ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?", re.IGNORECASE)


def _int(app: App, key: str) -> int | None:
    value = app.node.try_get_context(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SystemExit(f"context {key} must be an integer, got {value!r}") from None


def _bool(app: App, key: str, default: bool) -> bool:
    value = app.node.try_get_context(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in {"true", "false"}:
        return str(value).lower() == "true"
    raise SystemExit(f"context {key} must be true or false, got {value!r}")


def _origins(app: App, key: str) -> tuple[str, ...]:
    """Lowercased: browsers send `Origin` with a lowercase scheme and host, and both
    API Gateway and frolic.http compare it exactly."""
    value = app.node.try_get_context(key)
    if value is None or value == "":
        return ()
    parts = value if isinstance(value, list) else str(value).split(",")
    origins = tuple(str(part).strip() for part in parts if str(part).strip())
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise SystemExit(
                f"context {key}: {origin!r} is not an origin like https://play.example.com"
            )
    return tuple(origin.lower() for origin in origins)


def _domain_prefix(app: App, key: str, stage: str) -> str | None:
    """Cognito takes lowercase letters, digits and dashes, without the words it keeps for
    itself; the default carries the stage, so the stage is checked too."""
    value = app.node.try_get_context(key) or None
    checked = str(value) if value is not None else f"frolic-{stage.lower()}"
    if not DOMAIN_PREFIX.fullmatch(checked) or any(w in checked for w in RESERVED_WORDS):
        raise SystemExit(
            f"context {key}: {checked!r} cannot prefix a Cognito domain (lowercase letters, "
            f"digits and dashes, none of {', '.join(RESERVED_WORDS)}); set {key}"
        )
    return None if value is None else checked


def _https_url(app: App, key: str) -> str | None:
    """EventBridge API destinations call HTTPS endpoints only."""
    value = app.node.try_get_context(key) or None
    if value is not None and not re.fullmatch(r"https://[^\s/]+(/\S*)?", str(value)):
        raise SystemExit(f"context {key}: {value!r} is not an https:// URL")
    return None if value is None else str(value)


def build(app: App, *, deps_layer_dir: Path = DEPS_LAYER_DIR) -> FrolicStack:
    """The stack for this app's context; separate from main() so tests can call it."""
    stage = str(app.node.try_get_context("stage") or "dev")
    if not stage.replace("-", "").isalnum():
        raise SystemExit(f"context stage must be letters, digits and dashes, got {stage!r}")
    shard_count = _int(app, "shardCount")
    if shard_count is not None and shard_count < 1:
        raise SystemExit("context shardCount must be at least 1 (omit it for on-demand)")
    factor = _int(app, "parallelizationFactor") or 1
    if not 1 <= factor <= MAX_PARALLELIZATION_FACTOR:
        raise SystemExit("context parallelizationFactor must be between 1 and 10")
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    return FrolicStack(
        app,
        f"Frolic-{stage}",
        stage_name=stage,
        shard_count=shard_count,
        parallelization_factor=factor,
        alarm_email=app.node.try_get_context("alarmEmail") or None,
        retain_data=_bool(app, "retainData", default=True),
        extra_origins=_origins(app, "allowedOrigins"),
        sign_in_domain_prefix=_domain_prefix(app, "signInDomain", stage),
        crm_endpoint=_https_url(app, "crmEndpoint"),
        crm_with_codes=_bool(app, "crmWithCodes", default=False),
        deps_layer_dir=deps_layer_dir,
        env=Environment(account=account, region=region) if account and region else None,
        description=f"Frolic paced coupon jackpots ({stage})",
    )


def main() -> None:
    # The CDK CLI passes CDK_OUTDIR; run directly (`make synth`), write to ./cdk.out.
    app = App(outdir=os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out"))
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
