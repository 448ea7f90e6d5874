"""Validate the custom resources in rendered manifests against the schemas
beside this file (<kind>.<group>.<version>.json).

Usage: python3 validate_crds.py RENDERED.yaml...
Built-in kinds (core, dot-less groups such as apps, and *.k8s.io) are left
to kubernetes-validate;
a custom resource without a schema here is an error, not a skip.
Exit status 0 when every custom resource validates.
"""

import json
import pathlib
import sys

import jsonschema
import yaml

HERE = pathlib.Path(__file__).resolve().parent


def schema_for(api_version, kind):
    group, _, version = api_version.rpartition("/")
    if "." not in group or group.endswith(".k8s.io"):
        return None, None
    path = HERE / f"{kind.lower()}.{group}.{version}.json"
    if not path.exists():
        return path, False
    return path, json.loads(path.read_text())


def extra_checks(obj):
    """What JSON Schema cannot say: group names unique (a list-map in the CRD)."""
    if obj.get("kind") == "PrometheusRule":
        names = [g.get("name") for g in obj.get("spec", {}).get("groups", [])]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            yield f"duplicate rule group names {dup}"


def main(files):
    failures = checked = 0
    for file in files:
        for doc in yaml.safe_load_all(pathlib.Path(file).read_text()):
            if not doc:
                continue
            path, schema = schema_for(doc.get("apiVersion", ""), doc.get("kind", ""))
            if path is None:
                continue
            name = f"{file}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            if schema is False:
                print(f"ERROR {name}: no schema {path.name} in {HERE}")
                failures += 1
                continue
            checked += 1
            errors = [
                f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in jsonschema.Draft7Validator(schema).iter_errors(doc)
            ]
            errors += list(extra_checks(doc))
            for err in errors:
                print(f"ERROR {name}: {err}")
            failures += bool(errors)
    print(f"custom resources: {checked} checked, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
