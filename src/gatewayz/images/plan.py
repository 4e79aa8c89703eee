"""One image request's plan: the routes that can make its images, each with its price table and
what it is asked for (size, quality, n), checked before admission.

The billing stage prices work that carries a plan (`call.state["priced_by"]`) through it: `hold`
before the provider call, `charge` after, for the route that answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.images.pricing import SANDBOX_PRICE, STANDARD, ImagePrice, ImageSpec, ImageUsage, image_price_for
from gatewayz.images.request import resolve, wants_url
from gatewayz.providers.router import Route

JSON = dict[str, Any]
PROTOCOLS = ("openai", "gemini")
RouteKey = tuple[str, str]


def _key(route: Route) -> RouteKey:
    return route.provider, route.upstream_model


@dataclass(slots=True)
class ImagePlan:
    specs: dict[RouteKey, ImageSpec]
    prices: dict[RouteKey, ImagePrice | None]
    url: bool  # answer with URLs (stored images) rather than base64
    input_image_tokens: int = 0  # edits: the uploaded images, as the hold estimates them
    returned: int = 0  # images in the answer (set once it is known)
    usage: ImageUsage | None = None  # the provider's token counts, when it sent them
    sandbox_spec: ImageSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def spec(self, route: Route | None) -> ImageSpec:
        if route is None:
            assert self.sandbox_spec is not None
            return self.sandbox_spec
        return self.specs[_key(route)]

    def price(self, route: Route | None) -> ImagePrice | None:
        return None if route is None else self.prices.get(_key(route))

    # -- the billing stage's side ---------------------------------------------------------------

    def hold(self, prompt_tokens: int) -> int:
        """The most the request can cost at the dearest route."""
        return max((price.hold(self.specs[key], prompt_tokens, self.input_image_tokens)
                    for key, price in self.prices.items() if price is not None and key in self.specs), default=0)

    def is_free(self) -> bool:
        return all(price is None or price.is_free for price in self.prices.values())

    def charge(self, route: Route, prompt_tokens: int) -> tuple[int, tuple[int, int, int, bool]]:
        """(cost, (input tokens, output tokens, 0, estimated)) for the route that answered."""
        price, spec = self.price(route), self.spec(route)
        usage = self.usage
        if usage is not None:
            tokens = (usage.text_tokens + usage.image_tokens, usage.output_tokens, 0, False)
        else:
            output = price.output_tokens.get(spec.key, 0) * self.returned if price is not None else 0
            tokens = (prompt_tokens + self.input_image_tokens, output, 0, True)
        if price is None:
            return 0, tokens
        return price.charge(spec, self.returned, usage, prompt_tokens, self.input_image_tokens), tokens


def _unpriced_spec(body: JSON) -> ImageSpec:
    return ImageSpec(body.get("size") or "1024x1024", body.get("quality") or STANDARD, body.get("n") or 1)


def sandbox_plan(body: JSON, model: str) -> ImagePlan:
    spec = resolve(body, SANDBOX_PRICE, model)
    return ImagePlan({}, {}, wants_url(body, SANDBOX_PRICE), sandbox_spec=spec)


def plan_routes(routes: list[Route], body: JSON, model: str, *, allow_unpriced: bool, edits: bool = False,
                extra_fields: frozenset[str] = frozenset()) -> tuple[list[Route], ImagePlan]:
    """The routes that can serve the request (in their order) and its plan; a 400 naming the
    param when none can (no provider makes images of this model, no price, a size not offered)."""
    capable = [r for r in routes if r.spec.protocol in PROTOCOLS
               and (r.spec.image_edits_path if edits else r.spec.images_path) is not None
               and (not edits or r.spec.protocol == "openai")]
    if not capable:
        what = "edit images" if edits else "generate images"
        raise InvalidRequest(f"No provider of this gateway can {what} with the model '{model}'.", param="model",
                             code="model_not_supported")
    prices = {_key(r): image_price_for(r) for r in capable}
    if not allow_unpriced:
        capable = [r for r in capable if prices[_key(r)] is not None]
        if not capable:
            raise InvalidRequest(
                f"The model '{model}' has no known image price, so this gateway does not serve it. "
                "The operator can price it in the config file (image_pricing) or allow unpriced models.",
                param="model", code="model_not_priced",
            )
    specs: dict[RouteKey, ImageSpec] = {}
    kept: list[Route] = []
    first_error: InvalidRequest | None = None
    for route in capable:
        price = prices[_key(route)]
        try:
            specs[_key(route)] = resolve(body, price, model, extra=extra_fields) if price else _unpriced_spec(body)
        except InvalidRequest as exc:
            first_error = first_error or exc
            continue
        kept.append(route)
    if not kept:
        assert first_error is not None
        raise first_error
    kept_prices = {_key(r): prices[_key(r)] for r in kept}
    first = kept_prices[_key(kept[0])]
    return kept, ImagePlan(specs, kept_prices, wants_url(body, first))
