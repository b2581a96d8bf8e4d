#!/usr/bin/env python3
"""Validates every rendered object of every test configuration against the upstream schemas.

- CiliumNetworkPolicy: tests/schemas/ciliumnetworkpolicy_v2.json (the CRD's openAPIV3Schema)
- CiliumClusterwideNetworkPolicy: tests/schemas/ciliumclusterwidenetworkpolicy_v2.json
- NetworkPolicy and every object's metadata: the Kubernetes v1.28 OpenAPI (networking.k8s.io/v1),
  `#/components/schemas/...` refs resolved.
Both are made strict (no unknown fields), as server-side apply is: an unknown field gets a 500.
On top, the API server's validation that no schema expresses (NetworkPolicy protocol and port range,
label syntax, ipBlock CIDRs) is checked, as it answers 422 there.

Sources: the checked-in goldens (tests/render/golden/<name>.json; the YAML twins must parse to the
same objects) and, when the mlnetpol binary exists, `mlnetpol render` of each
tests/render/configs/<name>.yaml, which must reproduce the goldens byte for byte.
Negative cases (the fixtures' invalid CNPs and objects broken on purpose) must be rejected, so this
script fails when the validation itself stops working.
"""
import argparse
import copy
import ipaddress
import json
import os
import re
import subprocess
import sys

import jsonschema
import yaml

QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


COMBINATORS = ("oneOf", "anyOf", "allOf", "not")


def strict(schema, branch=False):
    """Adds additionalProperties: false to every object schema that lists properties, except the
    branches of oneOf/anyOf/allOf (the CRD's oneOf branches name a property only to require it)."""
    if isinstance(schema, dict):
        out = {k: strict(v, k in COMBINATORS) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not branch:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v, branch) for v in schema]
    return schema


def load_validators(schemas):
    with open(os.path.join(schemas, "ciliumnetworkpolicy_v2.json")) as f:
        cnp = strict(json.load(f))
    with open(os.path.join(schemas, "ciliumclusterwidenetworkpolicy_v2.json")) as f:
        ccnp = strict(json.load(f))
    with open(os.path.join(schemas, "kubernetes-v1.28",
                           "apis__networking.k8s.io__v1_openapi.json")) as f:
        components = strict(json.load(f)["components"])

    def k8s(name):
        schema = {"$ref": "#/components/schemas/" + name, "components": components}
        return jsonschema.Draft202012Validator(schema)

    return {
        "cnp": jsonschema.Draft202012Validator(cnp),
        "ccnp": jsonschema.Draft202012Validator(ccnp),
        "np": k8s("io.k8s.api.networking.v1.NetworkPolicy"),
        "meta": k8s("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    }


def label_key_ok(key):
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(QUALIFIED_NAME.match(name))


def semantic_errors(obj):
    """What the API server rejects (422) beyond the schema."""
    errors = []
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    if not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
        errors.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    if obj.get("kind") == "CiliumClusterwideNetworkPolicy":
        if "namespace" in meta:
            errors.append("metadata.namespace on a cluster-scoped object")
    elif not DNS1123_LABEL.match(meta.get("namespace", "")):
        errors.append(f"metadata.namespace {meta.get('namespace')!r} is not a DNS-1123 label")
    for key, value in (meta.get("labels") or {}).items():
        if not label_key_ok(key):
            errors.append(f"label key {key!r} is invalid")
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            errors.append(f"label value {value!r} is invalid")
    for key in (meta.get("annotations") or {}):
        if not label_key_ok(key):
            errors.append(f"annotation key {key!r} is invalid")

    def selector_labels(selector):
        for key, value in (selector or {}).get("matchLabels", {}).items():
            bare = key[4:] if key.startswith("k8s:") else key
            if not label_key_ok(bare):
                errors.append(f"selector key {key!r} is invalid")
            if not LABEL_VALUE.match(value) or len(value) > 63:
                errors.append(f"selector value {value!r} is invalid")

    spec = obj.get("spec", {})
    if obj.get("kind") == "NetworkPolicy":
        selector_labels(spec.get("podSelector"))
        types = spec.get("policyTypes", [])
        if not set(types) <= {"Ingress", "Egress"} or len(set(types)) != len(types):
            errors.append(f"policyTypes {types!r}")
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction, []) or []:
                for port in rule.get("ports", []) or []:
                    if port.get("protocol", "TCP") not in ("TCP", "UDP", "SCTP"):
                        errors.append(f"protocol {port.get('protocol')!r}")
                    p = port.get("port")
                    if isinstance(p, int) and not 1 <= p <= 65535:
                        errors.append(f"port {p} out of range")
                    if isinstance(p, str) and not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", p):
                        errors.append(f"named port {p!r} is invalid")
                for peer in rule.get(peers_key, []) or []:
                    selector_labels(peer.get("podSelector"))
                    selector_labels(peer.get("namespaceSelector"))
                    block = peer.get("ipBlock")
                    if block is None:
                        continue
                    if len(peer) != 1:
                        errors.append("ipBlock combined with a selector")
                    try:
                        net = ipaddress.ip_network(block["cidr"], strict=False)
                        for e in block.get("except", []):
                            ex = ipaddress.ip_network(e, strict=False)
                            if ex.version != net.version or not ex.subnet_of(net) or ex == net:
                                errors.append(f"except {e} is not inside {block['cidr']}")
                    except (ValueError, KeyError) as err:
                        errors.append(f"ipBlock: {err}")
    elif obj.get("kind") in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
        selector_labels(spec.get("endpointSelector"))
        for expr in (spec.get("endpointSelector") or {}).get("matchExpressions", []):
            bare = expr.get("key", "")
            if not label_key_ok(bare[4:] if bare.startswith("k8s:") else bare):
                errors.append(f"selector key {expr.get('key')!r} is invalid")
        for direction, key in (("ingress", "fromEndpoints"), ("egress", "toEndpoints")):
            for rule in spec.get(direction, []) or []:
                for sel in rule.get(key, []) or []:
                    selector_labels(sel)
                # Cilium refuses toFQDNs mixed with other L3 selectors.
                if "toFQDNs" in rule and any(k in rule for k in (
                        "toEndpoints", "toEntities", "toCIDR", "toCIDRSet", "toServices")):
                    errors.append("toFQDNs combined with another L3 selector")
    else:
        errors.append(f"unexpected kind {obj.get('kind')!r}")
    return errors


def validate(obj, validators):
    """All problems of one object, as strings (empty: valid)."""
    kind = obj.get("kind")
    if kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
        if obj.get("apiVersion") != "cilium.io/v2":
            return [f"apiVersion {obj.get('apiVersion')!r}"]
        schema = "cnp" if kind == "CiliumNetworkPolicy" else "ccnp"
        schema_errors = list(validators[schema].iter_errors(obj))
        schema_errors += list(validators["meta"].iter_errors(obj.get("metadata", {})))
    elif kind == "NetworkPolicy":
        if obj.get("apiVersion") != "networking.k8s.io/v1":
            return [f"apiVersion {obj.get('apiVersion')!r}"]
        schema_errors = list(validators["np"].iter_errors(obj))
    else:
        return [f"unexpected kind {kind!r}"]
    out = [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:200]}" for e in schema_errors]
    return out + semantic_errors(obj)


def broken_objects(sample_cnp, sample_np, sample_ccnp):
    """Objects that must be rejected: (what, object)."""
    cases = []

    def ccnp(what, change):
        o = copy.deepcopy(sample_ccnp)
        change(o)
        cases.append((what, o))

    ccnp("CCNP port as a number", lambda o: o["spec"]["egress"][0]["toPorts"][0]["ports"][0].update(
        port=53))
    ccnp("CCNP unknown spec field", lambda o: o["spec"].update(bogusField=True))
    ccnp("CCNP matchExpressions operator Maybe",
         lambda o: o["spec"]["endpointSelector"]["matchExpressions"][0].update(operator="Maybe"))
    ccnp("CCNP with a namespace", lambda o: o["metadata"].update(namespace="team-a"))
    ccnp("CCNP bad selector key", lambda o: o["spec"]["endpointSelector"]["matchExpressions"][0]
         .update(key="k8s:not ok"))

    def cnp(what, change):
        o = copy.deepcopy(sample_cnp)
        change(o)
        cases.append((what, o))

    def np(what, change):
        o = copy.deepcopy(sample_np)
        change(o)
        cases.append((what, o))

    def first_port(o):
        return o["spec"]["egress"][0]["toPorts"][0]["ports"][0]

    cnp("CNP port as a number", lambda o: first_port(o).update(port=53))
    cnp("CNP protocol HTTPS", lambda o: first_port(o).update(protocol="HTTPS"))
    cnp("CNP unknown field portName", lambda o: first_port(o).update(portName="dns"))
    cnp("CNP endpointSelector and nodeSelector", lambda o: o["spec"].update(nodeSelector={}))
    cnp("CNP unknown spec field", lambda o: o["spec"].update(bogusField=True))
    cnp("CNP DNS rule without matchName/matchPattern",
        lambda o: o["spec"]["egress"][0]["toPorts"][0]["rules"]["dns"][0].clear())
    cnp("CNP unknown metadata field", lambda o: o["metadata"].update(bogus="x"))
    cnp("CNP bad label value", lambda o: o["metadata"]["labels"].update(x="not ok!"))
    cnp("CNP toFQDNs with toEndpoints", lambda o: o["spec"]["egress"][0].update(
        toFQDNs=[{"matchName": "s3.amazonaws.com"}]))
    cnp("CNP bad FQDN pattern", lambda o: o["spec"]["egress"].append(
        {"toFQDNs": [{"matchPattern": "https://s3.amazonaws.com"}]}))
    np("NP unknown spec field", lambda o: o["spec"].update(bogusField=True))
    np("NP protocol HTTPS", lambda o: o["spec"]["egress"][0]["ports"][0].update(protocol="HTTPS"))
    np("NP port 0", lambda o: o["spec"]["egress"][0]["ports"][0].update(port=0))
    np("NP port as an object", lambda o: o["spec"]["egress"][0]["ports"][0].update(port={}))
    np("NP policyTypes Sideways", lambda o: o["spec"].update(policyTypes=["Sideways"]))
    np("NP ipBlock except outside cidr", lambda o: o["spec"]["egress"][0]["to"].append(
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]}}))
    np("NP name with capitals", lambda o: o["metadata"].update(name="Allow-DNS"))
    np("NP wrong apiVersion", lambda o: o.update(apiVersion="networking.k8s.io/v1beta1"))
    return cases


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True, help="tests/fixtures")
    ap.add_argument("--schemas", required=True, help="tests/schemas")
    ap.add_argument("--source", required=True)
    ap.add_argument("--binary", default="")
    args = ap.parse_args()

    validators = load_validators(args.schemas)
    render_dir = os.path.join(args.source, "tests", "render")
    golden_dir = os.path.join(render_dir, "golden")
    config_dir = os.path.join(render_dir, "configs")
    names = sorted(f[:-5] for f in os.listdir(config_dir) if f.endswith(".yaml"))
    failures = []
    checked = 0
    sample = {}

    for name in names:
        json_path = os.path.join(golden_dir, name + ".json")
        if not os.path.exists(json_path):
            failures.append(f"{name}: no golden {json_path}")
            continue
        with open(json_path) as f:
            golden_text = f.read()
        doc = json.loads(golden_text)
        if doc.get("apiVersion") != "v1" or doc.get("kind") != "List":
            failures.append(f"{name}: golden is not a v1 List")
        items = doc.get("items", [])
        for obj in items:
            where = f"{name}: {obj.get('kind')} {obj['metadata'].get('namespace')}/" \
                    f"{obj['metadata'].get('name')}"
            for problem in validate(obj, validators):
                failures.append(f"{where}: {problem}")
            checked += 1
            if obj["metadata"]["name"] in ("default-deny-with-dns", "allow-dns",
                                           "mlnetpol-default-deny"):
                sample.setdefault(obj["kind"], obj)
        with open(os.path.join(golden_dir, name + ".yaml")) as f:
            yaml_text = f.read()
        yaml_items = [d for d in yaml.safe_load_all(yaml_text) if d is not None]
        if yaml_items != items:
            failures.append(f"{name}: {name}.yaml does not parse to the objects of {name}.json")

        if args.binary and os.path.exists(args.binary):
            config = os.path.join(config_dir, name + ".yaml")
            for fmt, expected in (("json", golden_text), ("yaml", yaml_text)):
                r = run([args.binary, "render", "--config", config, "-o", fmt])
                if r.returncode != 0:
                    failures.append(f"{name}: mlnetpol render -o {fmt} exited {r.returncode}: "
                                    f"{r.stderr.decode(errors='replace').strip()}")
                elif r.stdout.decode() != expected:
                    failures.append(f"{name}: mlnetpol render -o {fmt} differs from the golden")
            r = run([args.binary, "render", "--config", config, "--summary"])
            summary = json.loads(r.stdout or b"null") if r.returncode == 0 else None
            # The module's policy_count: the namespaces' policies (not the cluster-wide one).
            namespaced = sum(1 for o in items if o["metadata"].get("namespace"))
            if summary is None or summary.get("policy_count") != namespaced:
                failures.append(f"{name}: --summary policy_count is not {namespaced}: {summary}")

    # The fixtures' CNPs, as accepted and rejected by a real API server with the real CRD.
    cilium_dir = os.path.join(args.fixtures, "cilium")
    negatives = 0
    for fixture in sorted(os.listdir(cilium_dir)):
        if not fixture.endswith(".yaml"):
            continue
        with open(os.path.join(cilium_dir, fixture)) as f:
            obj = yaml.safe_load(f)
        problems = validate(obj, validators)
        if fixture.startswith("cnp-valid") and problems:
            failures.append(f"fixture {fixture} was accepted by the API server but: {problems}")
        if fixture.startswith("cnp-invalid"):
            negatives += 1
            if not problems:
                failures.append(f"fixture {fixture} was rejected by the API server but passed")

    # The YAML check itself must catch a scalar a YAML reader retypes (a port 53 left unquoted).
    with open(os.path.join(golden_dir, "enhanced.yaml")) as f:
        retyped = f.read().replace('port: "53"', "port: 53")
    with open(os.path.join(golden_dir, "enhanced.json")) as f:
        enhanced_items = json.load(f)["items"]
    negatives += 1
    if [d for d in yaml.safe_load_all(retyped) if d is not None] == enhanced_items:
        failures.append("negative case passed: YAML with an unquoted port 53 equals the JSON")

    kinds = ("CiliumNetworkPolicy", "NetworkPolicy", "CiliumClusterwideNetworkPolicy")
    if any(k not in sample for k in kinds):
        failures.append(f"no sample of each of {kinds} to break on purpose")
    else:
        for what, obj in broken_objects(*(sample[k] for k in kinds)):
            negatives += 1
            if not validate(obj, validators):
                failures.append(f"negative case passed validation: {what}")

    binary_note = "with" if args.binary and os.path.exists(args.binary) else \
        "WITHOUT (binary not built: goldens only)"
    for f in failures:
        print("FAIL:", f)
    print(f"validated {checked} rendered objects of {len(names)} configurations {binary_note} "
          f"mlnetpol render; {negatives} invalid objects rejected")
    print(f"{checked + negatives - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
