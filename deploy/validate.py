#!/usr/bin/python3
"""Offline checks of deploy/k8s/*.yaml and deploy/compose/compose.yaml (deploy/validate.sh).

Kubernetes: every document is parsed (python3-yaml) and checked against the API schema that
Debian's python3-kubernetes (client 22.6, Kubernetes 1.22 API) carries as typed models: each
key must be a field of its object (openapi_types / attribute_map), each value of the field's
type (objects recursively, lists, maps, int/str/bool; int-or-string where the API allows it),
required fields present (the model constructors' own checks), plus the rules this project wants:
every container has resource limits and probes, and every non-privileged one a read-only root,
no privilege escalation and all capabilities dropped.
"""
import re
import sys
import glob
import yaml
import kubernetes.client as k

PRIMITIVE = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
             "datetime": str, "date": str}
errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def check(value, typ, where):
    if typ.startswith("list["):
        if not isinstance(value, list):
            return err(where, f"expected a list ({typ})")
        for i, v in enumerate(value):
            check(v, typ[5:-1], f"{where}[{i}]")
        return
    if typ.startswith("dict("):
        if not isinstance(value, dict):
            return err(where, f"expected a map ({typ})")
        inner = typ[5:-1].split(", ", 1)[1]
        for key, v in value.items():
            check(v, inner, f"{where}.{key}")
        return
    if typ in PRIMITIVE:
        if typ == "object":  # IntOrString / Quantity and friends
            if not isinstance(value, (int, str, float)):
                err(where, "expected an int or a string")
        elif not isinstance(value, PRIMITIVE[typ]) or (typ == "int" and isinstance(value, bool)):
            err(where, f"expected {typ}, got {type(value).__name__}")
        return
    cls = getattr(k, typ, None)
    if cls is None:
        return err(where, f"unknown schema type {typ}")
    if not isinstance(value, dict):
        return err(where, f"expected an object ({typ})")
    by_json = {j: p for p, j in cls.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json:
            err(where, f"unknown field '{key}' in {typ}")
            continue
        check(v, cls.openapi_types[by_json[key]], f"{where}.{key}")
    # required fields and enumerated values: the generated constructors' own checks
    try:
        cls(**{by_json[key]: v for key, v in value.items() if key in by_json})
    except ValueError as e:
        err(where, f"{typ}: {e}")


def model_for(doc):
    group_version = doc.get("apiVersion", "")
    version = group_version.split("/")[-1]
    return f"{version.capitalize()}{doc.get('kind', '')}"


def container_rules(c, where, privileged_ok):
    sc = c.get("securityContext", {})
    res = c.get("resources", {})
    if "limits" not in res or not {"cpu", "memory"} <= set(res["limits"]):
        err(where, "no cpu+memory limits")
    for probe in ("readinessProbe", "livenessProbe"):
        if probe not in c:
            err(where, f"no {probe}")
    if sc.get("privileged"):
        if not privileged_ok:
            err(where, "privileged")
    else:
        if not sc.get("readOnlyRootFilesystem") and "postgres" not in c.get("image", ""):
            err(where, "root filesystem not read-only")
        if sc.get("allowPrivilegeEscalation", True):
            err(where, "allowPrivilegeEscalation not false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            err(where, "capabilities not dropped")


def main():
    count = 0
    for path in sorted(glob.glob(sys.argv[1] + "/k8s/*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(open(path))):
            if not doc:
                continue
            count += 1
            where = f"{path.split('/deploy/')[-1]}#{i} {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
            typ = model_for(doc)
            if not hasattr(k, typ):
                err(where, f"unknown kind/apiVersion ({typ})")
                continue
            check(doc, typ, where)
            spec = doc.get("spec", {})
            pod = spec.get("template", {}).get("spec")
            if pod:
                for c in pod.get("containers", []):
                    container_rules(c, f"{where} container {c.get('name')}", doc["kind"] == "DaemonSet")
                names = {v["name"] for v in pod.get("volumes", [])}
                names |= {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
                for c in pod.get("containers", []):
                    for m in c.get("volumeMounts", []):
                        if m["name"] not in names:
                            err(where, f"volumeMount {m['name']} has no volume")
    print(f"kubernetes: {count} documents checked against the python3-kubernetes "
          f"{k.__version__ if hasattr(k, '__version__') else ''} models")
    # compose: YAML parse here; the schema is docker-compose's own (validate.sh)
    yaml.safe_load(open(sys.argv[1] + "/compose/compose.yaml"))
    for e in errors:
        print("  ERROR", e)
    return 1 if errors else 0


sys.exit(main())
