"""The published OpenAPI document describes the error bodies and statuses the API really sends."""

import pytest

from api.app import create_api


@pytest.fixture
def document(settings) -> dict:
    """/openapi.json of an app (no platform needed to build it)."""
    return create_api(settings=settings).openapi()


def _operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _error_schema(operation: dict, status: str) -> str:
    return operation["responses"][status]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]


def test_fastapi_validation_schema_is_replaced_by_the_real_ones(document):
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["AdminValidationError"]["properties"]["detail"] == {
        "type": "string", "description": "every problem, '; '-separated"}
    assert schemas["AdminValidationError"]["properties"]["errors"]["items"]["$ref"].endswith("/FieldError")
    assert set(schemas["FieldError"]["required"]) == {"field", "message", "type"}
    assert set(schemas["OpenAIError"]["properties"]["error"]["required"]) == {"message", "type", "param", "code"}


def test_every_operation_documents_its_error_shape(document):
    client_ops = admin_ops = 0
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        if path.startswith("/v1/"):
            client_ops += 1
            assert "422" not in responses, f"{method} {path}: /v1 answers validation errors as 400"
            assert {"400", "401", "403", "503"} <= set(responses), f"{method} {path}"
            assert operation["security"] == [{"ApiToken": []}]
            for status in responses:
                if status[0] in "45":
                    shape = "AnthropicError" if path.startswith("/v1/messages") else "OpenAIError"
                    assert _error_schema(operation, status) == shape, f"{method} {path} {status}"
        elif path.startswith("/admin/"):
            admin_ops += 1
            assert {"401", "403", "503"} <= set(responses), f"{method} {path}"
            for status in responses:
                if status[0] in "45":
                    expected = "AdminValidationError" if status == "422" else "AdminError"
                    assert _error_schema(operation, status) == expected, f"{method} {path} {status}"
    assert client_ops >= 14 and admin_ops >= 50


def test_tracing_routes_document_their_bodies_and_answers(document):
    paths = document["paths"]
    patch = paths["/v1/tracing/sessions/{session_id}"]["patch"]
    assert patch["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/SessionUpdateAccepted")
    assert patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SessionEnd")
    events = paths["/v1/tracing/sessions/{session_id}/events"]["post"]
    body = events["requestBody"]["content"]["application/json"]["schema"]
    assert sorted(ref["$ref"].rsplit("/", 1)[-1] for ref in body["anyOf"]) == ["EventBatch", "EventIn"]
    assert "413" in events["responses"]
    event = document["components"]["schemas"]["EventIn"]["properties"]
    assert event["prompt_tokens"]["maximum"] == 1_000_000_000 and event["cost_usd"]["maximum"] == 1_000_000
    accepted = document["components"]["schemas"]["SessionUpdateAccepted"]
    assert set(accepted["required"]) == {"id", "status", "ended_at"}


def test_integer_query_parameters_are_bounded_in_the_schema(document):
    for path, method, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            if schema.get("type") == "integer":
                assert "maximum" in schema and "minimum" in schema, f"{method} {path} {parameter['name']}"
            if schema.get("type") == "string" and "enum" not in schema and schema.get("format") != "date-time":
                assert "maxLength" in schema, f"{method} {path} {parameter['name']}"
