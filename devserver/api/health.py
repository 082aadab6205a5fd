"""Health: version, loaded schema counts and each backend's state."""
from __future__ import annotations

from flask import Blueprint, jsonify

from devserver.api import context

bp = Blueprint("health", __name__, url_prefix="/api")


@bp.get("/health")
def health():
    """Report whether the server and each backend can serve requests."""
    snap = context.catalog().snapshot
    router_state = context.router().state()
    backends = {b.backend_id: {"name": b.display_name, "kind": b.kind, **b.health().to_dict(),
                               **router_state.get(b.backend_id, {})}
                for b in context.backends()}
    verifier = context.safety().verifier
    return jsonify({
        "status": "ok",
        "version": context.version(),
        "schemas": {"chunks": len(snap.chunks), "pipelines": len(snap.pipelines),
                    "interception_configs": len(snap.interception), "output_configs": len(snap.outputs)},
        "model_roles": dict(context.config().MODEL_ROLE_MAP),
        "safety": {"default_level": context.config().DEFAULT_SAFETY_LEVEL,
                   "verification": "conservative" if verifier.conservative else "llm",
                   "verify_model": context.config().model_for("SAFETY_VERIFY_MODEL"),
                   "note": ("The embedded model is not trusted as a safety judge: ambiguous texts are blocked "
                            "for kids and youth." if verifier.conservative else ""),
                   "images": context.safety().image_status()},
        "backends": backends,
        "demo_model": {"roles": [role for role in context.config().MODEL_ROLE_MAP
                                 if context.router().is_demo(role)]},
    })
