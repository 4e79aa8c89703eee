"""Rebuild openai_spec_subset.json from OpenAI's published spec (github.com/openai/openai-openapi).

    python tests/contract/extract_openai_subset.py path/to/openapi.json <commit> <commit-date>

Keeps the four operations the gateway serves and every component they reference, transitively.
One repair, recorded in ``info.x-gatewayz-source``: the spec is OpenAPI 3.1 but still writes
``nullable: true`` (an OpenAPI 3.0 keyword that 3.1 validators ignore) on 21 schemas, e.g. a
stream chunk's ``finish_reason``; those become ``anyOf: [<schema>, {"type": "null"}]``, the 3.1
spelling of what OpenAI means (its own answers send ``"finish_reason": null``). And
``Embedding.embedding`` also admits a string: with ``encoding_format: "base64"`` OpenAI answers
(and the SDKs expect) the vector as base64 text, which the published schema does not say.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OPERATIONS = (("/chat/completions", "post"), ("/embeddings", "post"), ("/models", "get"), ("/models/{model}", "get"))
HERE = Path(__file__).parent


def refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            else:
                refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


def denull(node: Any) -> Any:
    """3.0 ``nullable: true`` -> 3.1 ``anyOf [.., null]``; descriptions stay on the outside."""
    if isinstance(node, list):
        return [denull(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: denull(v) for k, v in node.items() if k != "x-oaiMeta"}
    if node.pop("nullable", False) is True:
        outer = {k: node.pop(k) for k in ("description", "default", "deprecated") if k in node}
        return {**outer, "anyOf": [node, {"type": "null"}]}
    return node


def extract(spec: dict[str, Any], commit: str, date: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, method in OPERATIONS:
        paths.setdefault(path, {})[method] = spec["paths"][path][method]
    seen: set[str] = set()
    todo: set[str] = set()
    refs(paths, todo)
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        node: Any = spec
        for part in ref.split("/")[1:]:
            node = node[part]
        found: set[str] = set()
        refs(node, found)
        todo |= found - seen
    schemes = spec["components"]["securitySchemes"]
    components: dict[str, Any] = {"securitySchemes": {"ApiKeyAuth": schemes["ApiKeyAuth"]}}
    for ref in sorted(seen):
        _, _, section, name = ref.split("/")
        components.setdefault(section, {})[name] = spec["components"][section][name]
    info = {k: spec["info"][k] for k in ("title", "version", "license")}
    info["description"] = (
        f"Subset of OpenAI's published OpenAPI spec {spec['info']['version']} "
        f"(github.com/openai/openai-openapi, openapi.json at commit {commit}, {date}): "
        "the operations Gatewayz serves and the schemas they reference."
    )
    info["x-gatewayz-source"] = {
        "repository": "https://github.com/openai/openai-openapi",
        "file": "openapi.json",
        "commit": commit,
        "commit_date": date,
        "spec_version": spec["info"]["version"],
        "repairs": [
            "nullable: true (OpenAPI 3.0) rewritten as anyOf [schema, {type: null}] (OpenAPI 3.1)",
            "Embedding.embedding: anyOf [array of numbers, string] (a base64 string for encoding_format=base64)",
        ],
    }
    out = {"openapi": spec["openapi"], "info": info, "servers": [{"url": "/v1"}],
           "security": [{"ApiKeyAuth": []}], "paths": paths, "components": components}
    out = denull(out)
    embedding = out["components"]["schemas"]["Embedding"]["properties"]
    vector = embedding["embedding"]
    embedding["embedding"] = {"description": vector.pop("description"), "anyOf": [
        vector, {"type": "string", "description": "base64 of little-endian float32s (encoding_format=base64)"}]}
    return out  # type: ignore[no-any-return]


if __name__ == "__main__":
    source, commit, date = sys.argv[1:4]
    subset = extract(json.loads(Path(source).read_text()), commit, date)
    (HERE / "openai_spec_subset.json").write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n")
