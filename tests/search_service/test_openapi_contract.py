"""The OpenAPI schema tells the truth: every error is documented as ``ErrorBody``, and a
bounded schemathesis run finds no 5xx and no response outside the schema.

The fuzzing run uses SQLite, the embedded Edge store and the hashing encoder (fast,
no model), sends every generated request as an employer, a student and an admin in
turn, and includes the Clerk webhook (enabled with a test secret: every fuzzed
delivery is unsigned, so it exercises the 400 path).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from schemathesis import Case, GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from indexers import HashingEncoder
from models import User, Visibility
from search_service.app import create_app
from search_service.db import session_scope
from search_service.deps import CurrentStudent, RuntimeDep
from search_service.entities import ENTITIES
from search_service.openapi import install_error_responses
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.settings import ClerkSettings, EmbeddingSettings, QdrantSettings, Settings
from search_service.users.api_keys import create_api_key, find_active_key
from tests.factories import make_student

ERROR_REF = "#/components/schemas/ErrorBody"
ROLES = ("employer", "student", "admin")
# A syntactically valid Svix secret (base64 after the prefix); no test signs with it.
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# Bounded and reproducible: a fixed seed, derandomized generation, no example database,
# 20 fuzzed examples per operation, each sent three times (once per role). The
# coverage phase is off: it alone took ~30 s more, and fuzzing found the same bugs.
FUZZ_CONFIG: dict[str, Any] = {
    "seed": 20261121,
    "generation": {"max-examples": 20, "deterministic": True, "database": "none"},
    "phases": {"coverage": {"enabled": False}},
    # The assertion is the schema: no 5xx; status, content type, headers and body as
    # the operation documents; input the schema forbids is refused (4xx). Not the
    # REST heuristics (e.g. "valid input gets a 2xx"), which a role that may not call
    # an operation fails by design.
    "checks": {
        "enabled": False,
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "negative_data_rejection": {"enabled": True},
    },
}


def _settings(tmp: Path) -> Settings:
    return Settings(
        data_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'contract.db'}",
        embedding=EmbeddingSettings(model="hashing"),
        qdrant=QdrantSettings(url=None),
        clerk=ClerkSettings(webhook_enabled=True, webhook_secret=SecretStr(WEBHOOK_SECRET)),
    )


def _documented_errors(schema: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """``(method, path, status, response)`` of every 4xx/5xx response in ``schema``."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    yield method, path, status, response


@pytest.fixture(scope="module")
def contract_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """A runtime on SQLite and Edge with two indexed students whose profiles are public."""
    tmp = tmp_path_factory.mktemp("contract")
    rt = Runtime.open(_settings(tmp), entities=ENTITIES, encoder=HashingEncoder(64))
    public = {"skills": Visibility.PUBLIC, "work_experience": Visibility.PUBLIC}
    for n in (1, 2):
        make_student(
            rt, clerk_id=f"user_seed_{n}", headline="Barista", skills=("coffee",), visibility=public
        )
    reindex(rt, progress=False)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def contract_app(contract_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(_settings(tmp_path_factory.mktemp("app")), runtime=contract_runtime)


class Callers:
    """One API key per role, each owned by a user holding that role.

    A fuzzed call may delete its caller's account (``DELETE /v1/me``) or revoke a
    key by id; a revoked or deleted caller is replaced before the next call, so
    later operations are still exercised beyond 401.
    """

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._tokens: dict[str, str] = {}
        self._serial = itertools.count(1)

    def headers(self, role: str) -> dict[str, str]:
        token = self._tokens.get(role)
        if token is None or not self._usable(token):
            token = self._tokens[role] = self._mint(role)
        return {"Authorization": f"Bearer {token}"}

    def _usable(self, token: str) -> bool:
        with session_scope(self._rt.engine) as session:
            key = find_active_key(session, token)
            user = session.get(User, key.user_id) if key and key.user_id else None
            return user is not None and user.is_searchable

    def _mint(self, role: str) -> str:
        clerk_id = f"user_{role}_{next(self._serial)}"
        with session_scope(self._rt.engine) as session:
            user = User(clerk_id=clerk_id, email=f"{clerk_id}@example.test", roles=[role])
            session.add(user)
            session.flush()
            _, key = create_api_key(session, role=role, user_id=user.id)
        return key


@pytest.fixture(scope="module")
def callers(contract_runtime: Runtime) -> Callers:
    return Callers(contract_runtime)


# Loaded at collection from an app that is never started (building the schema does
# no I/O); requests go to ``contract_app``, whose schema is checked to be the same.
schema = schemathesis.openapi.from_dict(
    create_app(_settings(Path("unused"))).openapi(),
    config=SchemathesisConfig.from_dict(FUZZ_CONFIG),
)


@schema.parametrize()
def test_responses_match_schema_for_every_role(
    case: Case[Any], contract_app: FastAPI, callers: Callers
) -> None:
    # A negative header component may be the removed Authorization header: adding the
    # role's credentials back would turn the invalid request into a valid one.
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if header is not None and header.mode == GenerationMode.NEGATIVE:
        case.call_and_validate(app=contract_app)
        return
    for role in ROLES:
        case.call_and_validate(app=contract_app, headers=callers.headers(role))


def test_fuzzed_schema_is_the_served_one(contract_app: FastAPI) -> None:
    assert contract_app.openapi() == schema.raw_schema


class TestDocumentedErrors:
    @pytest.fixture
    def served(self, contract_app: FastAPI) -> dict[str, Any]:
        return contract_app.openapi()

    def test_every_error_response_is_an_error_body(self, served: dict[str, Any]) -> None:
        errors = list(_documented_errors(served))
        assert errors
        for method, path, status, response in errors:
            body = response.get("content", {}).get("application/json", {}).get("schema")
            assert body == {"$ref": ERROR_REF}, (method, path, status)

    def test_every_operation_documents_500_and_its_422(self, served: dict[str, Any]) -> None:
        for path, item in served["paths"].items():
            for method, op in item.items():
                assert "500" in op["responses"], (method, path)
                if op.get("parameters") or "requestBody" in op:
                    assert "422" in op["responses"], (method, path)

    def test_fastapi_validation_error_schemas_are_gone(self, served: dict[str, Any]) -> None:
        components = served["components"]["schemas"]
        assert "HTTPValidationError" not in components
        assert "ValidationError" not in components
        assert components["ErrorBody"]["required"] == ["error", "detail"]

    def test_statuses_follow_the_route(self, served: dict[str, Any]) -> None:
        def statuses(method: str, path: str) -> set[str]:
            return set(served["paths"][path][method]["responses"])

        # Anonymous, path parameter, database: no 401/403, but 404 and 503.
        public = statuses("get", "/v1/profiles/{user_id}/public")
        assert {"404", "422", "429", "500", "503"} <= public
        assert not {"401", "403", "413"} & public
        # Authenticated without a role guard: 401 but no 403.
        by_clerk_id = statuses("get", "/v1/users/by-clerk-id/{clerk_id}")
        assert "401" in by_clerk_id and "403" not in by_clerk_id
        # Role-guarded with a body: 401, 403, 413, 422.
        assert {"401", "403", "413", "422"} <= statuses("post", "/v1/search")
        # Declared by the route: 409 on conflicting writes, 415 on the merge patch.
        assert {"400", "409", "415"} <= statuses("patch", "/v1/me/profile")
        assert "409" not in statuses("get", "/v1/me/profile")
        # Outside /v1: no rate limit.
        assert "429" not in statuses("get", "/healthz")

    def test_429_documents_retry_after(self, served: dict[str, Any]) -> None:
        for method, path, status, response in _documented_errors(served):
            if status == "429":
                assert response["headers"]["Retry-After"]["required"] is True, (method, path)
        assert all(
            "429" in op["responses"]
            for path, item in served["paths"].items()
            if path.startswith("/v1/")
            for op in item.values()
        )


def test_a_route_added_later_is_documented(contract_runtime: Runtime, tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path), runtime=contract_runtime)
    before = app.openapi()
    assert "/v1/late/{thing_id}" not in before["paths"]

    def read_late_thing(thing_id: int, caller: CurrentStudent, rt: RuntimeDep) -> dict[str, int]:
        return {"thingId": thing_id}

    app.add_api_route("/v1/late/{thing_id}", read_late_thing, methods=["GET"])
    late = app.openapi()["paths"]["/v1/late/{thing_id}"]["get"]["responses"]
    assert set(late) == {"200", "401", "403", "404", "422", "429", "500", "503"}
    assert late["422"]["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}


def test_a_route_without_dependencies_documents_only_500() -> None:
    app = FastAPI()

    def read_nothing() -> dict[str, bool]:
        return {}

    app.add_api_route("/nothing", read_nothing, methods=["GET"])
    install_error_responses(app)
    assert set(app.openapi()["paths"]["/nothing"]["get"]["responses"]) == {"200", "500"}


class TestFuzzFindings:
    """What the fuzzer found, pinned on both engines."""

    def test_path_id_beyond_the_id_column_is_422(self, client: TestClient) -> None:
        for user_id in (2**31, 2**63):
            r = client.get(f"/v1/profiles/{user_id}/public")
            assert r.status_code == 422, r.text
            assert r.json()["error"] == "validation_error"
            assert r.json()["detail"].startswith("user_id:")

    def test_nul_in_a_body_string_is_422(self, client: TestClient, runtime: Runtime) -> None:
        headers = Callers(runtime).headers("student")
        r = client.put("/v1/users/me/data/k", json={"value": "a\x00b"}, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json() == {
            "error": "validation_error",
            "detail": "value: NUL characters (U+0000) are not allowed",
        }

    def test_nul_in_a_nested_list_is_422(self, client: TestClient, runtime: Runtime) -> None:
        headers = Callers(runtime).headers("employer")
        body = {"query": "barista", "filters": {"skills": ["coffee", "te\x00a"]}}
        r = client.post("/v1/search", json=body, headers=headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith("filters.skills:")

    def test_nul_in_the_clerk_id_path_is_422(self, client: TestClient, runtime: Runtime) -> None:
        headers = Callers(runtime).headers("admin")
        r = client.get("/v1/users/by-clerk-id/user%00x", headers=headers)
        assert r.status_code == 422, r.text

    def test_body_that_is_not_utf8_is_a_documented_400(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        headers = Callers(runtime).headers("employer")
        headers["Content-Type"] = "application/json"
        r = client.post("/v1/search", content=b"\xff\xfe{", headers=headers)
        assert r.status_code == 400, r.text
        assert set(r.json()) == {"error", "detail"}
        assert isinstance(client.app, FastAPI)
        assert "400" in client.app.openapi()["paths"]["/v1/search"]["post"]["responses"]
