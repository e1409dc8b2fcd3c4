"""Console form handling: service schemas validate forms, errors land under their fields."""

from gateway_app.services.tenants import TenantCreate
from gateway_app.services.users import UserCreate
from state.base import parse_form


def test_valid_form_becomes_the_service_input():
    payload, errors = parse_form(TenantCreate, {"slug": "acme", "name": "Acme", "plan": ""})
    assert errors == {}
    assert payload.slug == "acme" and payload.plan == "standard", "an empty field counts as omitted"


def test_errors_are_keyed_by_field_with_readable_messages():
    payload, errors = parse_form(TenantCreate, {"slug": "../x", "name": ""})
    assert payload is None
    assert set(errors) == {"slug", "name"}
    assert errors["slug"].startswith("Use 2-63 lower-case letters")


def test_optional_password_left_empty_is_generated_later():
    payload, errors = parse_form(UserCreate, {"email": "Jane@Example.com", "password": "", "role": "admin"})
    assert errors == {} and payload.password is None and payload.email == "jane@example.com"
    _, errors = parse_form(UserCreate, {"email": "jane@example.com", "password": "short"})
    assert "password" in errors
