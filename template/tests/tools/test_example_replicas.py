"""The example tools behind two replicas: a retried keyed delete replays on the other replica
(STATE__BACKEND=redis), and an elicitation started on one finishes on the other when both seal
with the same STATE__REQUEST_STATE_SECRET. Seeded with the examples: yours to keep or delete."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from ..conftest import app_for, make_settings
from ..http_fixtures import MODERN, MODERN_META, modern_call, running
from ..limits.test_redis_limits import redis_url  # noqa: F401  (the module's redis-server fixture)

pytestmark = pytest.mark.anyio

ELICITING = {**MODERN_META, "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}}


def shared(url: str, prefix: str) -> dict[str, Any]:
    return {"backend": "redis", "redis_url": url, "redis_key_prefix": prefix}


async def test_a_retried_delete_on_the_other_replica_replays_instead_of_deleting_again(redis_url: str) -> None:  # noqa: F811
    """Each app has its own note store: had the retry run on the second, its n-003 would be gone."""
    first = app_for(make_settings(state=shared(redis_url, "s9:")))
    second = app_for(make_settings(state=shared(redis_url, "s9:")))
    headers = {**MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "delete_note"}
    call = modern_call("delete_note", {"note_id": "n-003", "idempotency_key": "key-00000042"})
    async with running(first) as one, running(second) as two:
        answers = [(await replica.post("/mcp", json=call, headers=headers)).json() for replica in (one, two)]
        search = modern_call("search_notes", {"query": "e", "limit": 10})
        listed = await two.post("/mcp", json=search, headers={**headers, "Mcp-Name": "search_notes"})
    assert answers[0]["result"]["structuredContent"] == {"deleted_id": "n-003", "title": "API style"}
    assert answers[1]["result"]["structuredContent"] == answers[0]["result"]["structuredContent"]
    assert "n-003" in [n["id"] for n in listed.json()["result"]["structuredContent"]["notes"]]


def elicitation_call(arguments: dict[str, Any], **params: Any) -> dict[str, Any]:
    body = modern_call("delete_note_with_confirmation", arguments)
    body["params"]["_meta"] = ELICITING
    body["params"].update(params)
    return body


@pytest.mark.parametrize(("second_secret", "continues"), [("same", True), ("other", False)])
async def test_an_elicitation_started_on_one_replica_finishes_on_the_other(second_secret: str, continues: bool) -> None:
    """The sealed requestState opens on any replica with the same secret, and on no other."""
    secret = secrets.token_hex(32)
    other = secret if second_secret == "same" else secrets.token_hex(32)
    first = app_for(make_settings(state={"request_state_secret": secret}))
    second = app_for(make_settings(state={"request_state_secret": other}))
    headers = {**MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "delete_note_with_confirmation"}
    async with running(first) as one, running(second) as two:
        asked = (await one.post("/mcp", json=elicitation_call({"note_id": "n-001"}), headers=headers)).json()
        result = asked["result"]
        assert result["resultType"] == "input_required"
        (question,) = result["inputRequests"]
        answer = {question: {"action": "accept", "content": {"confirm": True}}}
        retry = elicitation_call({"note_id": "n-001"}, inputResponses=answer, requestState=result["requestState"])
        finished = (await two.post("/mcp", json=retry, headers=headers)).json()
    if continues:
        assert finished["result"]["structuredContent"] == {
            "deleted": True,
            "note_id": "n-001",
            "reason": "the user confirmed",
        }
    else:
        assert "result" not in finished or finished["result"].get("structuredContent", {}).get("deleted") is not True
        assert secret not in str(finished)
