"""The image price tables and the reading of provider answers, without a gateway."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gatewayz.errors import InvalidRequest
from gatewayz.images.pricing import ImagePrice, ImageSpec, ImageUsage, default_image_prices
from gatewayz.images.request import resolve, wants_url
from gatewayz.images.upstream import aspect_ratio, read_result, read_usage
from gatewayz.providers.registry import ImagePriceConfig, ProviderSpec
from gatewayz.providers.router import Route
from gatewayz.providers.upstream import UpstreamFailure
from tests.fakeprovider.images_routes import tiny_png

DALL_E_3 = default_image_prices()["dall-e-3"]
GPT_IMAGE = default_image_prices()["gpt-image-1"]


def route(protocol: str = "openai") -> Route:
    spec = ProviderSpec("p", protocol, "http://127.0.0.1:1/v1", "k", "bearer", None, None, {}, {}, 1.0, 1, 1, 1,
                        None, images_path="/images/generations")
    from gatewayz.providers.adapters import adapter_for

    return Route(spec, adapter_for(spec), "m", "m")


def test_per_image_prices_are_exact_and_count_the_images_returned() -> None:
    spec = resolve({"prompt": "x", "size": "1792x1024", "quality": "hd"}, DALL_E_3, "dall-e-3")
    assert spec == ImageSpec("1792x1024", "hd", 1)
    assert DALL_E_3.hold(spec, 1000) == 120_000_000
    two = ImageSpec("1024x1024", "standard", 2)
    assert DALL_E_3.charge(two, 2, None, 10) == 80_000_000
    assert DALL_E_3.charge(two, 1, None, 10) == 40_000_000  # fewer returned: charged for fewer
    assert DALL_E_3.charge(two, 7, None, 10) == 80_000_000  # more than asked: never more than n
    assert DALL_E_3.charge(two, 0, None, 10) == 0


def test_token_priced_hold_covers_n_images_and_the_charge_follows_the_usage() -> None:
    spec = resolve({"prompt": "x", "n": 2}, GPT_IMAGE, "gpt-image-1")
    assert spec == ImageSpec("1024x1024", "auto", 2)  # OpenAI's default quality; held as high
    assert GPT_IMAGE.hold(spec, 100) == 2 * 4160 * 40_000 + 100 * 5_000
    used = ImageUsage(text_tokens=20, image_tokens=0, output_tokens=2 * 1056)
    assert GPT_IMAGE.charge(spec, 2, used, 100) == 20 * 5_000 + 2112 * 40_000
    low = ImageSpec("1024x1536", "low", 1)
    assert GPT_IMAGE.charge(low, 1, None, 30) == 30 * 5_000 + 408 * 40_000  # no usage: the table's tokens


@pytest.mark.parametrize(("body", "param"), [
    ({"size": "512x512"}, "size"),
    ({"quality": "low"}, "quality"),
    ({"n": 2}, "n"),  # dall-e-3 makes one image per request
    ({"background": "transparent"}, "background"),
])
def test_what_the_table_does_not_offer_is_refused_naming_the_param(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        resolve({"prompt": "x", **body}, DALL_E_3, "dall-e-3")
    assert refused.value.param == param


def test_defaults_and_answer_formats() -> None:
    imagen = default_image_prices()["imagen-3.0-generate-002"]
    assert resolve({"prompt": "x"}, imagen, "imagen") == ImageSpec("1024x1024", "standard", 1)
    assert wants_url({}, DALL_E_3) and not wants_url({}, GPT_IMAGE)  # as each answers at OpenAI
    assert not wants_url({"response_format": "b64_json"}, DALL_E_3) and wants_url({"response_format": "url"}, GPT_IMAGE)
    config = ImagePriceConfig(per_image={"1024x1024": 0.5})
    price = ImagePrice.from_config(config, source="config")
    assert price.per_image == {"1024x1024/standard": 500_000_000} and price.parameters is None


def test_bad_config_prices_are_refused() -> None:
    for bad in ({"per_image": {"1024x1024": -1}}, {"per_image": {"1024x1024": 101}}, {"output": 20_000},
                {"output_tokens": {"1024x1024": -5}}, {"max_n": 11}):
        with pytest.raises(ValueError):
            ImagePriceConfig.model_validate(bad)


def test_provider_answers_are_input_like_any_other() -> None:
    good = base64.b64encode(tiny_png(0)).decode()
    data = {"created": 5, "data": [{"b64_json": good}, {"b64_json": "not base64!"}, {"url": "file:///etc/passwd"},
                                   {"url": "https://cdn.example.com/a.png", "revised_prompt": "r"}, "junk",
                                   {"b64_json": good}]}
    result = read_result(route(), data, ImageSpec("1024x1024", "standard", 2))
    assert [(i.content_type, i.url) for i in result.items] == [("image/png", None), ("", "https://cdn.example.com/a.png")]
    assert result.created == 5 and result.usage is None
    with pytest.raises(UpstreamFailure):  # nothing usable: the provider failed (fail over, charge nothing)
        read_result(route(), {"data": [{"b64_json": "!!"}]}, ImageSpec("1024x1024", "standard", 1))
    imagen = read_result(route("gemini"), {"predictions": [{"bytesBase64Encoded": good, "mimeType": "image/png"},
                                                           {"raiFilteredReason": "filtered"}]},
                         ImageSpec("1024x1024", "standard", 2))
    assert len(imagen.items) == 1  # a filtered image is not an image
    assert read_usage({"input_tokens": "5", "output_tokens": 1}) is None
    assert read_usage({"input_tokens": 30, "output_tokens": 9, "input_tokens_details": {"text_tokens": 10,
                       "image_tokens": 20}}) == ImageUsage(10, 20, 9)
    assert read_usage({"input_tokens": 3, "output_tokens": 9, "input_tokens_details": {"image_tokens": 20}}) == \
        ImageUsage(3, 0, 9)  # details that do not add up: all of it counted as text


def test_sizes_map_to_imagen_aspect_ratios() -> None:
    assert [aspect_ratio(s) for s in ("1024x1024", "896x1280", "1280x896", "768x1408", "1408x768", "junk")] == [
        "1:1", "3:4", "4:3", "9:16", "16:9", "1:1"]
