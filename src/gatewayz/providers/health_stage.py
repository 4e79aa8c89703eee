"""The pipeline stage that feeds live provider health with each answered request's throughput
(attempts and their time to first byte are counted by the dispatcher as they happen)."""

from __future__ import annotations

from gatewayz.inference.pipeline import InferenceCall
from gatewayz.providers.health import LiveHealth


class HealthStage:
    def __init__(self, health: LiveHealth) -> None:
        self.health = health

    async def admit(self, call: InferenceCall) -> None:
        return None

    async def finish(self, call: InferenceCall) -> None:
        route, usage, finished = call.route, call.usage, call.finished_at
        if route is None or call.status != 200 or not usage or finished is None:
            return
        tokens = usage.get("completion_tokens")
        if not isinstance(tokens, int) or isinstance(tokens, bool):
            return
        # a stream: generation after the first token; a whole answer: the request's time
        start = call.first_byte_at if call.first_byte_at is not None else call.started
        self.health.throughput(route.provider, route.upstream_model, tokens, finished - start)
