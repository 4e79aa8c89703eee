"""Closing a team's pool when the team is deleted: what goes back, and to whom.

Credit moves out of a pool only to whoever moved it in: each funder gets back at most what they
transferred in (net of what already came back to them), the newest transfers first (the older
money is taken as spent first), less what refunds of their purchases could not take back.
Everything else (admin grants, credit of funders whose account is gone, those refund shortfalls)
stays in the closed team's account for an admin to move. So no path turns credit that was
not yours (a grant to the team, a coupon or trial moved in by another account) into your balance.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gatewayz.accounts.tables import User
from gatewayz.billing import ledger
from gatewayz.billing.tables import CreditAccount, CreditTransaction
from gatewayz.errors import Conflict
from gatewayz.payments.tables import PaymentRefund
from gatewayz.teams.tables import Team


def _out_reference(team: Team, user_id: int) -> str:
    return f"team:{team.id}:return:{user_id}"


async def _movements(session: AsyncSession, team: Team) -> list[tuple[int, int]]:
    """(person, signed amount into the pool) for every transfer between the pool and a person,
    newest first; a negative amount came back to them."""
    pool = aliased(CreditTransaction)
    other = aliased(CreditTransaction)
    rows = await session.execute(
        select(other.user_id, pool.amount)
        .join(other, (other.reference == pool.reference) & (other.user_id != pool.user_id)
              & (other.type == "transfer"))
        .join(User, (User.id == other.user_id) & (User.kind != "team"))
        .where(pool.user_id == team.account_id, pool.type == "transfer",
               pool.reference.like(f"team:{team.id}:%"))
        .order_by(pool.id.desc())
    )
    return [(int(u), int(a)) for u, a in rows.all()]


async def _refund_shortfalls(session: AsyncSession, users: set[int]) -> dict[int, int]:
    """Credit refunds could not take back from each user (refunded purchases they had spent or
    moved into a pool): withheld from what they get back, so a refund does not leave them the
    credit too."""
    if not users:
        return {}
    rows = await session.execute(
        select(PaymentRefund.user_id, func.sum(PaymentRefund.credits - PaymentRefund.credits_deducted))
        .where(PaymentRefund.user_id.in_(sorted(users)), PaymentRefund.status.in_(("pending", "succeeded")))
        .group_by(PaymentRefund.user_id))
    return {int(u): max(int(s or 0), 0) for u, s in rows.all()}


def plan_returns(movements: list[tuple[int, int]], available: int) -> dict[int, int]:
    """Who gets what back out of `available`: each funder at most their net transfers in, the
    newest transfers first."""
    net: dict[int, int] = {}
    for user_id, amount in movements:
        net[user_id] = net.get(user_id, 0) + amount
    returns: dict[int, int] = {}
    left = max(available, 0)
    for user_id, amount in movements:
        if amount <= 0 or left <= 0:
            continue
        give = min(amount, net[user_id] - returns.get(user_id, 0), left)
        if give > 0:
            returns[user_id] = returns.get(user_id, 0) + give
            left -= give
    return returns


async def close_pool(session: AsyncSession, team: Team, actor_id: int) -> tuple[dict[int, int], int]:
    """Give the funders back their share of the pool (ledger transfers, this transaction); returns
    ({user id: amount returned}, what stays in the closed account). 409 while requests hold money
    from the pool."""
    movements = await _movements(session, team)
    funders = {u for u, _ in movements}
    for account_id in sorted({team.account_id, *funders}):  # the order every transfer locks in
        await ledger.ensure_account(session, account_id)
        await session.get(CreditAccount, account_id, with_for_update=True, populate_existing=True)
    account = await session.get(CreditAccount, team.account_id)
    assert account is not None
    if account.held or account.expired_pending:
        raise Conflict("Requests are still spending from this team's pool; try again when they end.",
                       code="pool_in_use")
    total = account.balance
    returns = plan_returns(movements, total - account.expiring)
    owed = await _refund_shortfalls(session, set(returns))
    returns = {u: a - owed.get(u, 0) for u, a in returns.items() if a > owed.get(u, 0)}
    for user_id, amount in sorted(returns.items()):
        await ledger.transfer(session, from_user=team.account_id, to_user=user_id, amount=amount,
                              reference=_out_reference(team, user_id), actor=f"user:{actor_id}",
                              reason="team deleted: credit returned to the member who moved it in")
    return returns, total - sum(returns.values())
