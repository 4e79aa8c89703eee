"""Reading an image request: cheap checks, 400s naming the param.

The body is OpenAI's (`model`, `prompt`, `n`, `size`, `quality`, `style`, `response_format`,
`output_format`, `background`, `user`, ...) plus the gateway's own routing fields (`provider`,
`models`) and `dry_run`. What the model offers (sizes, qualities, optional parameters, the most
images per request) comes from its price table.
"""

from __future__ import annotations

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.images.pricing import AUTO, ImagePrice, ImageSpec
from gatewayz.inference import request as parse

JSON = dict[str, Any]
MAX_N = 10
MAX_PROMPT_CHARS = 32_000
RESPONSE_FORMATS = ("url", "b64_json")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
GATEWAY_FIELDS = ("provider", "models", "dry_run")
# Fields every image request may carry, whatever the model (the rest must be in the table's `parameters`).
BASE_FIELDS = frozenset({"model", "prompt", "n", "size", "quality", "response_format", *GATEWAY_FIELDS})
EDIT_FIELDS = frozenset({"image", "image[]", "mask"})


def _string(body: JSON, name: str, *, required: bool = False, limit: int = 64) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"Missing required parameter: '{name}'.", param=name,
                                 code="missing_required_parameter")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", param=name, code="invalid_type")
    if len(value) > limit:
        raise InvalidRequest(f"'{name}' must be at most {limit} characters.", param=name, code="invalid_value")
    return value


def check_images(body: JSON) -> str:
    """The checks that need no price table; returns the model."""
    model = parse.require_model(body)
    prompt = _string(body, "prompt", required=True, limit=MAX_PROMPT_CHARS)
    if not prompt or not prompt.strip():
        raise InvalidRequest("'prompt' must not be empty.", param="prompt", code="invalid_value")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise InvalidRequest("'n' must be an integer.", param="n", code="invalid_type")
    if isinstance(n, int) and not 1 <= n <= MAX_N:
        raise InvalidRequest(f"'n' must be between 1 and {MAX_N}.", param="n", code="invalid_value")
    for name in ("size", "quality", "style", "background", "user"):
        _string(body, name, limit=256)
    response_format = _string(body, "response_format")
    if response_format is not None and response_format not in RESPONSE_FORMATS:
        raise InvalidRequest("'response_format' must be 'url' or 'b64_json'.", param="response_format",
                             code="invalid_value")
    output_format = _string(body, "output_format")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise InvalidRequest("'output_format' must be 'png', 'jpeg' or 'webp'.", param="output_format",
                             code="invalid_value")
    dry_run = body.get("dry_run")
    if dry_run is not None and not isinstance(dry_run, bool):
        raise InvalidRequest("'dry_run' must be a boolean.", param="dry_run", code="invalid_type")
    parse.check_routing(body)
    return model


def resolve(body: JSON, price: ImagePrice, model: str, *, extra: frozenset[str] = frozenset()) -> ImageSpec:
    """The size, quality and count, checked against what the model offers (400 naming the param)."""
    if price.parameters is not None:
        allowed = BASE_FIELDS | price.parameters | extra
        for name in body:
            if name not in allowed:
                raise InvalidRequest(f"The model '{model}' does not support the parameter '{name}'.",
                                     param=name, code="unsupported_parameter")
    n = body.get("n") or 1
    if n > price.max_n:
        raise InvalidRequest(f"The model '{model}' generates at most {price.max_n} image(s) per request.",
                             param="n", code="invalid_value")
    sizes = price.sizes
    size = body.get("size") or price.default_size_for()
    if size not in sizes:
        raise InvalidRequest(f"The model '{model}' does not offer the size {size!r}; it offers "
                             f"{', '.join(repr(s) for s in sizes)}.", param="size", code="invalid_value")
    quality = body.get("quality") or price.default_quality_for(size)
    if not price.offered(size, quality):
        if quality == AUTO and body.get("quality") is not None:  # "auto" on a table without it: the default
            quality = price.default_quality_for(size)
        else:
            qualities = price.qualities(size)
            raise InvalidRequest(f"The model '{model}' does not offer the quality {quality!r} at {size}; it "
                                 f"offers {', '.join(repr(q) for q in qualities)}.", param="quality",
                                 code="invalid_value")
    return ImageSpec(size, quality, n)


def wants_url(body: JSON, price: ImagePrice | None) -> bool:
    """Whether the answer carries URLs: as asked; by default as the model answers at OpenAI (URLs
    where it takes `response_format`, base64 for models that always answer base64)."""
    asked = body.get("response_format")
    if asked is not None:
        return asked == "url"
    return price is None or price.parameters is None or "response_format" in price.parameters
