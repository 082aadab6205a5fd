"""`/api/openapi.json` is a valid OpenAPI 3 document that matches the app's real routes and bodies."""
from __future__ import annotations

import re
from typing import Any

import pytest

from devserver.engine.requests import TEXT_MAX

IGNORED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def document(client) -> dict[str, Any]:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield path, method, op


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def refs(node: Any):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def route_template(rule: str) -> str:
    """Turn a Flask rule (`/x/<int:index>`) into an OpenAPI path template (`/x/{index}`)."""
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_document_has_the_openapi_3_structure(document):
    assert re.fullmatch(r"3\.\d+\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert document["paths"]
    for path, method, op in operations(document):
        assert path.startswith("/api/") and method in HTTP_METHODS, (path, method)
        assert op["responses"] and any(code.startswith("2") for code in op["responses"]), (path, method)
        for code, response in op["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", code) and response["description"], (path, method, code)
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)
        assert all(p["required"] for p in op.get("parameters", []) if p["in"] == "path")
    for ref in refs(document):
        resolve(document, ref)


def test_error_schema_describes_the_envelope_the_api_returns(client, document):
    schema = document["components"]["schemas"]["Error"]
    body = client.get("/api/does-not-exist").get_json()
    assert set(schema["required"]) == set(body)
    assert set(schema["properties"]["error"]["required"]) == set(body["error"])


def test_operation_ids_are_unique(document):
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_document_passes_the_openapi_spec_validator(document):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)


def test_every_api_route_is_listed_with_its_methods(app, document):
    expected: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and "<path:" not in rule.rule:  # catch-alls are not operations
            expected.setdefault(route_template(rule.rule), set()).update(
                m.lower() for m in (rule.methods or set()) - IGNORED_METHODS)
    listed = {path: set(item) for path, item in document["paths"].items()}
    assert listed == expected
    assert {"/api/health", "/api/schema/pipeline/{phase}", "/api/pipeline/{run_id}/events",
            "/api/media/{media_type}/{run_id}/{index}", "/api/runs/list"} <= set(listed)


def test_every_operation_has_a_summary_that_says_what_it_does(document):
    for path, method, op in operations(document):
        summary = op.get("summary", "")
        assert summary and "\n" not in summary, (path, method)
        assert summary.strip("/ ") not in (path.strip("/"), op["operationId"]), (path, method, summary)
        assert len(summary.split()) >= 3, (path, method, summary)


def test_pipeline_post_documents_the_four_request_bodies(document):
    op = document["paths"]["/api/schema/pipeline/{phase}"]["post"]
    assert op["requestBody"]["required"] is True
    variants = op["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    bodies = {ref.rsplit("/", 1)[-1]: resolve(document, ref) for ref in (v["$ref"] for v in variants)}
    assert set(bodies) == {"ExecuteRequest", "Stage2Request", "OptimizeRequest", "GenerationRequest",
                           "StoryboardRequest", "SceneGenerationRequest"}
    for phase in ("execute", "stage2", "optimize", "generation", "storyboard", "storyboard_generation"):
        assert phase in op["requestBody"]["description"]
    for name, schema in bodies.items():
        assert schema["type"] == "object" and schema["additionalProperties"] is False, name  # extra="forbid"
    stage2, execute = bodies["Stage2Request"], bodies["ExecuteRequest"]
    assert set(stage2["required"]) == {"schema", "input_text"}
    assert stage2["properties"]["input_text"]["maxLength"] == TEXT_MAX
    assert {"context_prompt", "run_id", "safety_level", "lang", "session"} <= set(stage2["properties"])
    assert set(execute["required"]) == {"schema", "input_text"}
    assert {"output_config", "output_configs", "seed"} <= set(execute["properties"])
    assert set(bodies["OptimizeRequest"]["required"]) == {"run_id", "output_config"}
    assert {"output_configs", "prompts", "prompt", "seed", "run_id"} <= set(bodies["GenerationRequest"]["properties"])
    assert "pattern" in str(stage2["properties"]["run_id"])
    wait = [p for p in op["parameters"] if p["name"] == "wait"]
    assert wait and wait[0]["in"] == "query" and wait[0]["required"] is False
    assert "202" in op["responses"]


def test_catch_all_error_routes_are_not_operations(document):
    assert not [path for path in document["paths"] if "{rest}" in path]


def test_path_parameters_with_fixed_values_are_enums(document):
    def enum(path: str, name: str) -> list[str]:
        op = next(iter(document["paths"][path].values()))
        return next(p["schema"]["enum"] for p in op["parameters"] if p["name"] == name)

    assert set(enum("/api/schema/pipeline/{phase}", "phase")) == {"execute", "stage2", "optimize", "generation",
                                                                  "storyboard", "storyboard_generation"}
    assert "image" in enum("/api/media/{media_type}/{run_id}", "media_type")
    assert set(enum("/api/runs/{run_id}/export/{fmt}", "fmt")) >= {"json", "csv", "zip"}


def test_the_safety_check_declares_its_body(document):
    safety = document["paths"]["/api/safety/check"]["post"]
    schema = resolve(document, safety["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert "text" in schema["required"]
    assert "requestBody" in document["paths"]["/api/schema/pipeline/{phase}"]["post"]


def test_downloads_declare_their_real_content_types(document):
    def content(path: str) -> set[str]:
        return set(document["paths"][path]["get"]["responses"]["200"]["content"])

    assert content("/api/pipeline/{run_id}/events") == {"text/event-stream"}
    assert {"application/zip", "text/csv", "application/jsonl"} <= content("/api/runs/export")
    assert {"application/zip", "text/csv", "application/json", "application/pdf"} <= content(
        "/api/runs/{run_id}/export/{fmt}")
    assert {"image/png", "audio/mpeg", "video/mp4"} <= content("/api/media/{media_type}/{run_id}/{index}")


def test_access_routes_are_listed_with_their_bodies_and_who_may_call_them(document):
    bodies = {("/api/auth/login", "post"): "LoginBody", ("/api/auth/setup", "post"): "SetupBody",
              ("/api/auth/users", "post"): "UserBody", ("/api/auth/tokens", "post"): "TokenBody",
              ("/api/sessions", "post"): "SessionCreate", ("/api/sessions/{session_id}", "patch"): "SessionUpdate",
              ("/api/sessions/join", "post"): "JoinBody"}
    for (path, method), model in bodies.items():
        op = document["paths"][path][method]
        schema = resolve(document, op["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(model)
        assert schema["additionalProperties"] is False, model
    assert set(resolve(document, "#/components/schemas/SessionCreate")["required"]) == {"title", "safety_level"}
    assert {"/api/auth/me", "/api/auth/logout", "/api/sessions/{session_id}/close", "/api/runs/mine",
            "/api/sessions/{session_id}/qr.{fmt}", "/api/sessions/current"} <= set(document["paths"])
    assert all(op["x-access"] for _, _, op in operations(document))
    assert document["paths"]["/api/runs/list"]["get"]["x-access"].startswith("teachers")
    assert {"401", "403"} <= set(document["paths"]["/api/sessions"]["post"]["responses"])
