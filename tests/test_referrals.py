"""Referrals: a code and invite link per user, applying a code after sign-up (no self-referral, no
cycles, one referrer, within the window), and both rewards paid once, through the ledger, on the
referred user's first qualifying purchase."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import settings_from_env
from tests.support.databases import run_sql
from tests.support.money import balance, nanos
from tests.support.payments import LocalStripe, buy, intent_succeeded, on, post_event
from tests.support.servers import ThreadedGateway


def _code(user: Any) -> str:
    answer = user.client.get("/referral/code")
    assert answer.status_code == 200, answer.text
    return answer.json()["code"]  # type: ignore[no-any-return]


def _apply(user: Any, code: str) -> httpx.Response:
    return user.client.post("/referral/apply", json={"code": code})


def test_the_code_and_invite_link(make_user: Any, anon: httpx.Client) -> None:
    user = make_user()
    shown = user.client.get("/referral/code").json()
    assert len(shown["code"]) == 8 and shown["link"].endswith(f"/r/{shown['code']}")
    assert _code(user) == shown["code"]
    followed = anon.get(f"/r/{shown['code'].lower()}", follow_redirects=False)
    assert followed.status_code == 302
    assert followed.headers["location"].endswith(f"/signup?ref={shown['code']}")
    assert anon.get("/r/NOSUCHCODE", follow_redirects=False).status_code == 404
    assert anon.get("/r/bad-code!", follow_redirects=False).status_code in (400, 404)
    assert user.client.get("/referral/stats").json()["invited"] == 1


def test_who_may_apply_which_code(make_user: Any) -> None:
    a, b, c = make_user(), make_user(), make_user()
    assert _apply(a, _code(a)).json()["error"]["code"] == "self_referral"
    assert _apply(b, _code(a)).status_code == 201  # a -> b
    assert _apply(b, _code(c)).json()["error"]["code"] == "already_referred"  # one referrer
    assert _apply(c, _code(b)).status_code == 201  # b -> c
    assert _apply(a, _code(c)).json()["error"]["code"] == "referral_cycle"  # c is a's, through b
    assert _apply(a, "NOSUCHCODE").json()["error"]["code"] == "referral_code_not_found"
    assert _apply(a, "no!").status_code == 400
    stats = a.client.get("/referral/stats").json()
    assert (stats["signed_up"], stats["converted"], stats["earned"]) == (1, 0, "0.000000000")


def test_rewards_come_once_with_the_first_qualifying_purchase(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, make_user: Any, database_url: str
) -> None:
    referrer, referred = make_user(), make_user()
    assert _apply(referred, _code(referrer)).status_code == 201
    with on(stripe_gw, referred) as client:
        buy(client, localstripe, amount="9.99")  # below the $10 minimum: no reward yet
        assert balance(referrer.client)["balance"] == "0.000000000"
        qualifying = buy(client, localstripe, amount="10")
        assert post_event(client, intent_succeeded(qualifying)).json()["duplicate"] is False  # a second event
        buy(client, localstripe, package="standard")
    assert balance(referrer.client)["balance"] == "5.000000000"
    assert balance(referred.client)["balance"] == "49.990000000"  # 9.99 + 10 + 25 + the $5 reward
    stats = referrer.client.get("/referral/stats").json()
    assert (stats["signed_up"], stats["converted"], stats["earned"]) == (1, 1, "5.000000000")
    history = referrer.client.get("/referral/history").json()["data"]
    assert [(h["status"], h["reward"]) for h in history] == [("converted", "5.000000000")]
    assert history[0]["referred"].startswith(referred.email[0]) and "***@" in history[0]["referred"]
    rows = run_sql(database_url, "SELECT user_id, amount FROM credit_transactions WHERE type = 'referral' "
                                 "AND user_id IN (:p0, :p1)", referrer.id, referred.id)
    assert sorted((int(u), int(a)) for u, a in rows) == sorted([(referrer.id, nanos("5")), (referred.id, nanos("5"))])
    late = make_user()
    with on(stripe_gw, late) as client:
        buy(client, localstripe, amount="1")
    assert _apply(late, _code(referrer)).json()["error"]["code"] == "referral_too_late"


def test_two_purchases_completing_at_once_pay_the_reward_once(
    stripe_gw: ThreadedGateway, make_user: Any
) -> None:
    referrer, referred = make_user(), make_user()
    assert _apply(referred, _code(referrer)).status_code == 201
    with on(stripe_gw, referred) as client:
        purchases = [client.post("/api/stripe/payment-intent", json={"amount": "20"}).json() for _ in range(4)]
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda p: post_event(client, intent_succeeded(p)), purchases))
        assert all(a.status_code == 200 for a in answers)
        assert balance(client)["balance"] == "85.000000000"
    assert balance(referrer.client)["balance"] == "5.000000000"


def test_a_code_is_applied_within_the_window_of_sign_up(base_env: dict[str, str], make_user: Any) -> None:
    server = ThreadedGateway(settings_from_env(base_env, referral_apply_window_days=0.00001)).start()  # 0.86 s
    try:
        referrer, referred = make_user(), make_user()
        time.sleep(1.0)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {referred.key}"}) as client:
            late = client.post("/referral/apply", json={"code": _code(referrer)})
            assert (late.status_code, late.json()["error"]["code"]) == (400, "referral_window_closed")
    finally:
        server.stop()
    assert _apply(referred, _code(referrer)).status_code == 201  # the default window is 7 days


def test_the_data_export_holds_payments_coupons_and_referrals(
    stripe_gw: ThreadedGateway, localstripe: LocalStripe, admin: httpx.Client, make_user: Any
) -> None:
    import io
    import zipfile

    import orjson

    from tests.support.coupons import make_coupon

    referrer, user = make_user(), make_user()
    assert _apply(user, _code(referrer)).status_code == 201
    coupon = make_coupon(admin, "bonus", credits="1")
    with on(stripe_gw, user) as client:
        purchase = buy(client, localstripe, package="starter", coupon_code=coupon["code"])
    archive = zipfile.ZipFile(io.BytesIO(user.client.post("/user/data-export").content))
    data = {name: orjson.loads(archive.read(name)) for name in archive.namelist()}
    assert [p["id"] for p in data["payments.json"]] == [purchase["payment_id"]]
    assert [r["coupon_id"] for r in data["coupon_redemptions.json"]] == [coupon["id"]]
    assert [(r["referrer_id"], r["status"]) for r in data["referrals.json"]] == [(referrer.id, "converted")]
    assert data["referral_codes.json"] == [] and data["payment_refunds.json"] == []
