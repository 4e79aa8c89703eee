"""Teams in tests: a team with members in given roles, invitations, team keys."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from tests.support.identity import GwUser
from tests.support.money import grant


def new_team(owner: GwUser, name: str = "Team") -> dict[str, Any]:
    response = owner.client.post("/teams", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def invite(inviter: GwUser, team_id: int, **body: Any) -> dict[str, Any]:
    response = inviter.client.post(f"/teams/{team_id}/invitations", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def join(owner: GwUser, team_id: int, user: GwUser, role: str) -> None:
    token = invite(owner, team_id, role=role, email=user.email)["token"]
    accepted = user.client.post("/teams/invitations/accept", json={"token": token})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["role"] == role


def pool_with_member(admin: httpx.Client, make_user: Any, pool_usd: str = "1",
                     ) -> tuple[GwUser, GwUser, dict[str, Any]]:
    """A new team (its owner, a `member`, the team) whose pool an admin funded with `pool_usd`."""
    owner, member = make_user(), make_user()
    team = new_team(owner)
    grant(admin, team["account_id"], pool_usd)
    join(owner, team["id"], member, "member")
    return owner, member, team


def team_key(member: GwUser, team_id: int, **body: Any) -> dict[str, Any]:
    response = member.client.post(f"/teams/{team_id}/api-keys", json={"name": "team", **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def chat(base_url: str, key: str, model: str = "fakepriced/priced-model", max_tokens: int = 10) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                      json={"model": model, "messages": [{"role": "user", "content": "go"}], "max_tokens": max_tokens})


async def fire(urls: list[str], keys: list[str], count: int) -> Counter[int]:
    """`count` chat requests at once ($0.01 each on fakepriced), spread over the gateways and keys."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    body = {"model": "fakepriced/priced-model", "messages": [{"role": "user", "content": "go"}], "max_tokens": 10}
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(index: int) -> int:
            response = await client.post(f"{urls[index % len(urls)]}/v1/chat/completions", json=body,
                                         headers={"Authorization": f"Bearer {keys[index % len(keys)]}"})
            assert response.status_code in (200, 402), response.text
            return response.status_code

        return Counter(await asyncio.gather(*(one(i) for i in range(count))))
