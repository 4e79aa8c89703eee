"""Image generation and edits through the inference pipeline (authentication, scopes, allowed
models, rate limits, the credit hold and settlement, usage records, failover), as embeddings are:
only the upstream call, the price and the answer are the images' own.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response

from gatewayz.accounts.principal import Principal
from gatewayz.billing.money import usd
from gatewayz.errors import NotFound, ServiceUnavailable
from gatewayz.images.plan import ImagePlan, plan_routes, sandbox_plan
from gatewayz.images.pricing import ImageUsage
from gatewayz.images.request import check_images
from gatewayz.images.sandbox import sandbox_images
from gatewayz.images.store import ImageStore
from gatewayz.images.upstream import ImageResult, edit_call, generation_call, read_result
from gatewayz.inference import request as parse
from gatewayz.inference.estimate import IMAGE_TOKENS_UNKNOWN_SIZE, estimate_prompt
from gatewayz.inference.failures import final_error
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.inference.sandbox import check_sandbox_model
from gatewayz.inference.service import InferenceService
from gatewayz.providers.router import Route
from gatewayz.providers.sandbox import SANDBOX_PROVIDER

log = structlog.get_logger(__name__)

JSON = dict[str, Any]
OPENAI_QUALITIES = ("low", "medium", "high")  # what OpenAI's ImagesResponse.quality may say
FILES_PATH = "/v1/images/files/"


class ImagesService:
    def __init__(self, inference: InferenceService, store: ImageStore, allow_unpriced: bool) -> None:
        self.inference = inference
        self.store = store
        self.allow_unpriced = allow_unpriced

    # -- planning --------------------------------------------------------------------------------

    def _planner(self, *, edits: bool = False, extra: frozenset[str] = frozenset()) -> Any:
        def plan(call: InferenceCall) -> None:
            if call.principal.is_sandbox:  # its model was checked by the pipeline
                call.state["priced_by"] = sandbox_plan(call.body, call.model)
                return
            call.routes, call.state["priced_by"] = plan_routes(
                call.routes, call.body, call.model, allow_unpriced=self.allow_unpriced, edits=edits,
                extra_fields=extra,
            )

        return plan

    @staticmethod
    async def _prepare(principal: Principal, raw: JSON) -> tuple[JSON, str, JSON]:
        return raw, check_images(raw), {}

    # -- the answer ------------------------------------------------------------------------------

    async def _answer(self, request: Request, call: InferenceCall, route: Route | None,
                      result: ImageResult) -> JSON:
        """OpenAI's ImagesResponse: base64, or URLs (the gateway's own for images it has the bytes of)."""
        plan: ImagePlan = call.state["priced_by"]
        plan.returned, plan.usage = len(result.items), result.usage
        base = str(request.base_url).rstrip("/")
        data: list[JSON] = []
        for item in result.items:
            entry: JSON = {}
            if item.data is None:
                entry["url"] = item.url
            elif plan.url:
                entry["url"] = await self._keep(base, item.data, item.content_type)
            else:
                entry["b64_json"] = base64.b64encode(item.data).decode("ascii")
            if item.revised_prompt is not None:
                entry["revised_prompt"] = item.revised_prompt
            data.append(entry)
        spec = plan.spec(route)
        used = result.usage or ImageUsage(0, 0, 0)  # OpenAI's usage shape; zeros where the provider sent none
        usage: JSON = {
            "input_tokens": used.text_tokens + used.image_tokens, "output_tokens": used.output_tokens,
            "total_tokens": used.text_tokens + used.image_tokens + used.output_tokens,
            "input_tokens_details": {"text_tokens": used.text_tokens, "image_tokens": used.image_tokens},
            "images": len(data),
        }
        answer: JSON = {"created": result.created or int(time.time()), "data": data, "size": spec.size,
                        "usage": usage}
        if spec.quality in OPENAI_QUALITIES:
            answer["quality"] = spec.quality
        return answer

    async def _keep(self, base: str, data: bytes, content_type: str) -> str:
        """The gateway's URL for a generated image; if the store fails, a `data:` URL instead: the
        image is paid for and must reach the client either way."""
        try:
            return base + FILES_PATH + await self.store.put(data, content_type)
        except Exception as error:  # any store failure (disk full, bucket down)
            log.warning("image_store_failed", error=repr(error)[:300])
            return f"data:{content_type};base64," + base64.b64encode(data).decode("ascii")

    # -- generations -----------------------------------------------------------------------------

    async def generate(self, request: Request) -> Response:
        inference = self.inference
        principal = await inference.auth.authenticate(request, "inference")
        raw = await parse.read_json_object(request)
        if raw.get("dry_run") is True:
            return await self._estimate(request, principal, raw)

        async def work(call: InferenceCall) -> tuple[Route, JSON]:
            plan: ImagePlan = call.state["priced_by"]
            route, result = await inference.dispatcher.exchange(
                call.routes, call.model,
                lambda r: generation_call(r, call.body, plan.spec(r), plan.price(r)),
                lambda r, data: read_result(r, data, plan.spec(r)),
            )
            return route, await self._answer(request, call, route, result)

        async def sandbox(call: InferenceCall) -> tuple[None, JSON]:
            plan: ImagePlan = call.state["priced_by"]
            return None, await self._answer(request, call, None, sandbox_images(call.body["prompt"], plan.spec(None)))

        return await inference.run(request, "images", self._prepare, work, sandbox, principal=principal, raw=raw,
                                   plan=self._planner())

    # -- estimates -------------------------------------------------------------------------------

    async def estimate(self, request: Request) -> Response:
        principal = await self.inference.auth.authenticate(request, "inference")
        return await self._estimate(request, principal, await parse.read_json_object(request))

    async def _estimate(self, request: Request, principal: Principal, raw: JSON) -> Response:
        """What the request would hold (the most it can cost) at each route, without running it."""
        inference = self.inference
        model = check_images(raw)
        inference.auth.authorize_model(request, principal, model)
        for fallback in raw.get("models") or []:
            if isinstance(fallback, str):
                inference.auth.authorize_model(request, principal, fallback)
        prompt = estimate_prompt("images", raw).tokens
        if principal.is_sandbox:
            check_sandbox_model(raw, "images")
            spec = sandbox_plan(raw, model).spec(None)
            routes: list[JSON] = [{"provider": SANDBOX_PROVIDER, "model": model, "cost": usd(0)}]
            cost = 0
        else:
            candidates = await inference.router.routes(model, preference=raw.get("provider"),
                                                       fallbacks=raw.get("models"))
            if not candidates:
                raise final_error(model, None)
            kept, plan = plan_routes(candidates, raw, model, allow_unpriced=self.allow_unpriced)
            spec = plan.spec(kept[0])
            routes = []
            for route in kept:
                price = plan.price(route)
                held = price.hold(plan.spec(route), prompt) if price is not None else 0
                routes.append({"provider": route.provider, "model": route.upstream_model, "cost": usd(held),
                               "price_source": price.source if price is not None else None})
            cost = plan.hold(prompt)
        answer = {"object": "image.estimate", "model": model, "n": spec.n, "size": spec.size, "quality": spec.quality,
                  "prompt_tokens": prompt, "currency": "USD", "cost": usd(cost), "routes": routes}
        return Response(orjson.dumps(answer), media_type="application/json")

    # -- edits -----------------------------------------------------------------------------------

    async def edit(self, request: Request) -> Response:
        from gatewayz.images.edits import read_edit, uploads_digest

        inference = self.inference
        principal = await inference.auth.authenticate(request, "inference")
        fields, files = await read_edit(request)

        async def work(call: InferenceCall) -> tuple[Route, JSON]:
            plan: ImagePlan = call.state["priced_by"]
            route, result = await inference.dispatcher.exchange(
                call.routes, call.model,
                lambda r: edit_call(r, call.body, files, plan.spec(r), plan.price(r)),
                lambda r, data: read_result(r, data, plan.spec(r)),
            )
            return route, await self._answer(request, call, route, result)

        async def sandbox(call: InferenceCall) -> tuple[None, JSON]:
            plan: ImagePlan = call.state["priced_by"]
            return None, await self._answer(request, call, None, sandbox_images(call.body["prompt"], plan.spec(None)))

        def plan(call: InferenceCall) -> None:
            self._planner(edits=True)(call)
            call.state["priced_by"].input_image_tokens = IMAGE_TOKENS_UNKNOWN_SIZE * len(files)
            call.state["fingerprint"] = uploads_digest(files)

        return await inference.run(request, "images", self._prepare, work, sandbox, principal=principal, raw=fields,
                                   plan=plan)

    # -- files -----------------------------------------------------------------------------------

    async def file(self, image_id: str) -> Response:
        try:
            found = await self.store.get(image_id)
        except Exception as error:  # the bucket or the disk, not the request
            log.warning("image_store_failed", error=repr(error)[:300])
            raise ServiceUnavailable("The image store is unavailable; try again shortly.") from error
        if found is None:
            raise NotFound("No such image: it never existed or its URL has expired.", code="image_not_found")
        data, content_type = found
        return Response(data, media_type=content_type,
                        headers={"cache-control": "private, max-age=3600", "x-content-type-options": "nosniff"})
