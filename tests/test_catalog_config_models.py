"""A provider whose models are listed in the config serves exactly that list after a restart,
even when the database holds a list synced moments ago (the config wins over the stored catalog)."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx

from tests.fakeprovider import FakeProvider
from tests.support.identity import ADMIN_KEY, UPSTREAM_KEY_A
from tests.support.servers import gateway_processes


def test_a_changed_config_list_is_served_at_once_after_a_restart(
    base_env: dict[str, str], upstream_a: FakeProvider, fake_a: FakeProvider, tmp_root: Path
) -> None:
    name, config = f"listed{secrets.token_hex(3)}", tmp_root / f"listed-{secrets.token_hex(3)}.toml"
    env = {**base_env, "GATEWAYZ_CONFIG": str(config), "GATEWAYZ_ALLOW_UNPRICED_MODELS": "true"}
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    tag = secrets.token_hex(3)
    for model in (f"first-model-{tag}", f"second-model-{tag}"):  # bare ids: found through the model list
        config.write_text(f'[providers.{name}]\nprotocol = "openai"\nbase_url = "{upstream_a.openai_base_url}"\n'
                          f'api_key = "{UPSTREAM_KEY_A}"\nmodels = ["{model}"]\n')
        with gateway_processes(env, 1, log_dir=tmp_root) as (gateway,):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
            response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
            assert response.status_code == 200, response.text
