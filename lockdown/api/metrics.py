"""/metrics: Prometheus text, kept out of the OpenAPI document (it is not JSON and not under /api/v1)."""

from __future__ import annotations

import hmac

from apiflask import APIBlueprint
from flask import Response, jsonify, request
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from lockdown.api.state import app_state, request_context
from lockdown.ops.metrics import render_metrics
from lockdown.store.replication import replication_status

bp = APIBlueprint("metrics", __name__, enable_openapi=False)


@bp.get("/metrics")
def metrics() -> Response | tuple[Response, int, dict[str, str]]:
    """Every metric, read from the database now; a bearer token when LOCKDOWN_METRICS_TOKEN is set."""
    state = app_state()
    token = state.settings.metrics_token
    if token is not None and not _bearer_matches(token):
        error = {"code": "unauthorized", "message": "send Authorization: Bearer <LOCKDOWN_METRICS_TOKEN>"}
        return jsonify({"error": error}), 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
    now = state.clock()
    body = render_metrics(request_context().db, now, replication_status(state.settings, now))
    # The 0.0.4 text format: what every Prometheus version scrapes.
    return Response(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def _bearer_matches(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
