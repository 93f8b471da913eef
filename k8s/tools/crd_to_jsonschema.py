"""Turns a CustomResourceDefinition's OpenAPI v3 schema into a strict JSON schema that
check-jsonschema can use, the way kubernetes-validate's strict schemas are made:

    crd_to_jsonschema.py CRD.yaml VERSION OUTPUT.json

- every object with `properties` and no `additionalProperties` refuses unknown fields,
  unless it is marked `x-kubernetes-preserve-unknown-fields`;
- `x-kubernetes-int-or-string` becomes integer-or-string, `nullable` adds null;
- `apiVersion` and `kind` must be the CRD's own, and `metadata` needs a `name` (the
  API server's defaults, which the CRD itself leaves out).
"""

from __future__ import annotations

import json
import sys

import yaml


def strict(schema: dict) -> dict:
    schema = dict(schema)
    for key in ("properties", "patternProperties"):
        if key in schema:
            schema[key] = {name: strict(value) for name, value in schema[key].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            schema[key] = strict(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            schema[key] = [strict(value) for value in schema[key]]
    if schema.pop("x-kubernetes-int-or-string", False):
        schema.pop("type", None)
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.pop("nullable", False) and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    preserve = schema.pop("x-kubernetes-preserve-unknown-fields", False)
    if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema and not preserve:
        schema["additionalProperties"] = False
    for key in [key for key in schema if key.startswith("x-kubernetes-")]:
        del schema[key]
    return schema


def main() -> None:
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    path, version, output = sys.argv[1:]
    with open(path) as file:
        crd = yaml.safe_load(file)
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    served = [entry for entry in crd["spec"]["versions"] if entry["name"] == version]
    if not served:
        sys.exit(f"{path}: no version {version}")
    schema = strict(served[0]["schema"]["openAPIV3Schema"])
    schema["properties"]["apiVersion"] = {"const": f"{group}/{version}"}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "finalizers": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    }
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = f"{kind} ({group}/{version}), strict, from {path.rsplit('/', 1)[-1]}"
    with open(output, "w") as file:
        json.dump(schema, file)


if __name__ == "__main__":
    main()
