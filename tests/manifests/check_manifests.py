#!/usr/bin/env python3
"""Renders every kustomize overlay of manifests/ and checks what it would install.

Each object is validated against the Kubernetes v1.28 OpenAPI schemas (unknown fields are errors,
as with `kubectl apply --validate=strict`); cert-manager objects, which have no schema there, are
checked structurally. Then the deployment's safety rules: webhook settings and scopes, restricted
security context, probes, availability, RBAC, certificate wiring and the configuration file.
The standard, cilium and audit overlays manage their certificate themselves (--cert-management=self)
and must render before any certificate step, with no Secret and no caBundle in them; then the
binary does what a user of the external overlay does: `mlnetpol certs` writes the certificate (into
a copy of manifests/). `mlnetpol render --config` must accept every overlay's config.yaml.

Usage: check_manifests.py --source DIR --schemas DIR --kubectl PATH --binary PATH [--self-test]
--self-test breaks rendered objects on purpose and fails unless every break is reported.
"""
import argparse
import base64
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import yaml

# The render tests' schema and API-server checks of NetworkPolicy and CiliumNetworkPolicy.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "render"))
import validate_render  # noqa: E402

NAMESPACE = "mlnetpol-system"
NAME = "mlnetpol"
SECRET = "mlnetpol-tls"
CONFIGMAP = "mlnetpol-config"
CERT_DIR = "/tmp/k8s-webhook-server/serving-certs"
CONFIG_PATH = "/etc/mlnetpol/config.yaml"
NEVER_EXCLUDED = ["kube-system", "kube-node-lease", NAMESPACE]
SECURED_LABEL = ("mlnetpol.io/secured", "true")
MANAGED_BY = ("app.kubernetes.io/managed-by", "mlnetpol")
FORBIDDEN_RESOURCES = {"leases", "events", "tokenreviews"}
SKIPPED = 77  # ctest's SKIP_RETURN_CODE
POLICY_REPORT_CRD = "policyreports.wgpolicyk8s.io"
# mlnetpol's PolicyReport for an example namespace (policy_tests keeps it equal to what
# policy::build_policy_report writes); read in main().
POLICY_REPORT_EXAMPLE = {}
OVERLAYS = ["standard", "cilium", "cert-manager", "audit", "external"]
# Overlays whose leader keeps the Secret and caBundle itself (docs/certificates.md).
SELF_MANAGED = {"standard", "cilium", "audit"}
# What each overlay's config.yaml changes relative to manifests/base/config.yaml.
CONFIG_CHANGES = {
    "standard": {},
    "cilium": {"cilium_mode": True},
    "cert-manager": {},
    "audit": {"enforcement_mode": "audit", "tenant_policy_guardrails": "audit"},
    "external": {},
}
# Pod-controlling resources the engine handles, per API group (mutated and validated).
WORKLOADS = {
    "": {"pods"},
    "apps": {"deployments", "statefulsets", "daemonsets", "replicasets"},
    "batch": {"jobs", "cronjobs"},
    "kubeflow.org": {"pytorchjobs", "tfjobs", "mpijobs", "xgboostjobs", "paddlejobs", "jaxjobs"},
    "trainer.kubeflow.org": {"trainjobs"},
}
POLICIES = {"networking.k8s.io": {"networkpolicies"}, "cilium.io": {"ciliumnetworkpolicies"}}
# The only sub-resources a webhook may name: writes to them can change labels mlnetpol judges.
NAMESPACE_SUBRESOURCES = {"namespaces/status", "namespaces/finalize"}
POD_STATUS = "pods/status"
# The workload label (manifests/base/config.yaml's label_key); the pods/status webhook selects it.
LABEL_KEY = "workload-type"
# Exactly what the controller calls (controller/, k8s/): informers list + watch, namespace labels by
# JSON merge patch, policies by server-side apply (PATCH; creating one through apply is authorized
# as create as well), update (PUT: an object that differs is replaced whole) and delete; the certificate manager gets, watches and JSON-patches the two webhook configurations, by name.
# The admission policies and bindings mlnetpol keeps (policy/render/admission_policies.cpp): a
# closed set, so RBAC can name them.
_ADMISSION_POLICIES = ["mlnetpol-workload-type-training", "mlnetpol-workload-type-inference",
                       "mlnetpol-workload-type-training-inference", "mlnetpol-host-network",
                       "mlnetpol-policy-set"]
ADMISSION_POLICY_NAMES = set(_ADMISSION_POLICIES) | {
    f"{p}-{mode}" for p in _ADMISSION_POLICIES for mode in ("enforce", "warn", "audit")}
# policy/render/clusterwide.hpp: the CiliumClusterwideNetworkPolicy Cilium mode keeps.
CLUSTERWIDE_POLICY = "mlnetpol-default-deny"
# (apiGroups, resources, verbs, resourceNames)
EXPECTED_CLUSTER_RULES = [
    ({""}, {"namespaces"}, {"list", "watch", "patch"}, set()),
    # controller/manager.cpp: pods labelled mlnetpol.io/gated=true, their gate released (JSON patch);
    # controller/policy_reporter.cpp: every pod listed and watched, judged as it changes.
    ({""}, {"pods"}, {"list", "watch", "patch"}, set()),
    ({"networking.k8s.io"}, {"networkpolicies"}, {"list", "watch", "create", "patch", "update", "delete"},
     set()),
    ({"cilium.io"}, {"ciliumnetworkpolicies"}, {"list", "watch", "create", "patch", "update", "delete"},
     set()),
    # controller/clusterwide_policy.cpp: the one CiliumClusterwideNetworkPolicy, watched by label,
    # created by server-side apply; replaced and deleted by its name only
    # (check_clusterwide_policy_name: the name render prints).
    ({"cilium.io"}, {"ciliumclusterwidenetworkpolicies"}, {"list", "watch", "create"}, set()),
    ({"cilium.io"}, {"ciliumclusterwidenetworkpolicies"}, {"patch", "update", "delete"},
     {CLUSTERWIDE_POLICY}),
    ({"admissionregistration.k8s.io"},
     {"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
     {"get", "list", "watch", "patch"}, {NAME}),
    # controller/event_recorder.cpp: Events about denials and policy sets, their series patched.
    ({"events.k8s.io"}, {"events"}, {"create", "patch"}, set()),
    # controller/admission_policies.cpp: the label rules as ValidatingAdmissionPolicies, listed on
    # each full pass, created by server-side apply, replaced whole when they differ, pruned.
    ({"admissionregistration.k8s.io"},
     {"validatingadmissionpolicies", "validatingadmissionpolicybindings"},
     {"list", "create"}, set()),
    # ... changed and deleted by name only (check_admission_policy_names: every name it renders).
    ({"admissionregistration.k8s.io"},
     {"validatingadmissionpolicies", "validatingadmissionpolicybindings"},
     {"patch", "update", "delete"}, ADMISSION_POLICY_NAMES),
    # controller/policy_reporter.cpp: mlnetpol's PolicyReports watched (label-selected),
    # server-side applied and deleted.
    ({"wgpolicyk8s.io"}, {"policyreports"}, {"list", "watch", "create", "patch", "delete"}, set()),
]
# In mlnetpol-system: leader election (controller/leader_election.cpp: get, create when missing,
# update to renew, take over, release) and the certificate manager's Secret (create, which cannot
# be limited by name; get, list and watch with fieldSelector metadata.name, merge patch of that one
# Secret).
EXPECTED_ROLE_RULES = [
    ({"coordination.k8s.io"}, {"leases"}, {"get", "create", "update"}, set()),
    ({""}, {"secrets"}, {"create"}, set()),
    ({""}, {"secrets"}, {"get", "list", "watch", "patch"}, {SECRET}),
]
# The downward API gives the controller its lease identity and namespace.
DOWNWARD_ENV = {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}


# ----------------------------------------------------------------------------- schemas

class Schemas:
    """Kubernetes OpenAPI v3 component schemas, indexed by group/version/kind."""

    def __init__(self, schema_dir):
        files = sorted(glob.glob(os.path.join(schema_dir, "*openapi.json")))
        if not files:
            raise SystemExit(f"no *openapi.json schemas in {schema_dir}")
        self.components = {}
        for f in files:
            with open(f) as fh:
                self.components.update(json.load(fh)["components"]["schemas"])
        # CiliumNetworkPolicy (the CRD's schema sits beside the Kubernetes ones); NetworkPolicy
        # also gets the API server's checks beyond its schema.
        self.policies = validate_render.load_validators(os.path.dirname(schema_dir))
        self.by_gvk = {}
        for name, schema in self.components.items():
            strict(schema)
            for gvk in schema.get("x-kubernetes-group-version-kind", []):
                self.by_gvk[(gvk["group"], gvk["version"], gvk["kind"])] = name

    def validate(self, obj):
        if obj.get("kind") in ("NetworkPolicy", "CiliumNetworkPolicy"):
            found = validate_render.validate(obj, self.policies)
            if obj.get("kind") == "CiliumNetworkPolicy":
                return found
        else:
            found = []
        group, _, version = obj.get("apiVersion", "").rpartition("/")
        name = self.by_gvk.get((group, version, obj.get("kind")))
        if name is None:
            return None  # no schema for this kind
        root = {"components": {"schemas": self.components},
                "$ref": f"#/components/schemas/{name}"}
        validator = jsonschema.Draft7Validator(root)
        return found + [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                        for e in validator.iter_errors(obj)]


def strict(schema):
    """Makes unknown fields errors, like the API server's strict field validation."""
    if isinstance(schema, dict):
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        for v in schema.values():
            strict(v)
    elif isinstance(schema, list):
        for v in schema:
            strict(v)


# ----------------------------------------------------------------------------- helpers

def selector_matches(selector, labels):
    """Evaluates a metav1.LabelSelector; None selects everything, as for webhooks."""
    if selector is None:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def namespace_labels(name, *extra):
    labels = {"kubernetes.io/metadata.name": name}
    labels.update(dict(extra))
    return labels


def find(objs, kind, name=None):
    return [o for o in objs if o.get("kind") == kind
            and (name is None or o.get("metadata", {}).get("name") == name)]


def one(errors, objs, kind, name):
    found = find(objs, kind, name)
    if len(found) != 1:
        errors.append(f"{kind}/{name}: expected exactly one, found {len(found)}")
        return None
    return found[0]


def rule_resources(webhook):
    """(group, resource, operations) for every group x resource a webhook's rules name."""
    out = []
    for rule in webhook.get("rules") or []:
        for g in rule.get("apiGroups") or []:
            for r in rule.get("resources") or []:
                out.append((g, r, set(rule.get("operations") or [])))
    return out


def covers(webhooks, wanted, operation):
    have = {(g, r) for w in webhooks for g, r, ops in rule_resources(w)
            if operation in ops or "*" in ops}
    return sorted(f"{g or 'core'}/{r}" for g, rs in wanted.items() for r in rs
                  if (g, r) not in have)


def port_number(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p.get("containerPort")
    return None


def arg_value(args, flag):
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            return a[len(flag) + 1:]
        if a == flag and i + 1 < len(args):
            return args[i + 1]
    return None


# ----------------------------------------------------------------------------- checks

def check_schemas(objs, schemas):
    errors = []
    for o in objs:
        ident = f"{o.get('kind')}/{o.get('metadata', {}).get('name')}"
        if o.get("apiVersion", "").startswith("cert-manager.io/"):
            errors += [f"{ident}: {e}" for e in check_cert_manager_object(o)]
            continue
        if o.get("kind") == "CustomResourceDefinition":
            errors += [f"{ident}: {e}" for e in check_policy_report_crd(o)]
            continue
        result = schemas.validate(o)
        if result is None:
            errors.append(f"{ident}: no schema for {o.get('apiVersion')} {o.get('kind')}")
        else:
            errors += [f"{ident}: schema: {e}" for e in result]
    return errors


def check_policy_report_crd(o):
    """The upstream PolicyReport CRD (manifests/components/policy-report): what Policy Reporter
    reads. mlnetpol's example report must be valid under its schema with unknown fields refused
    (what a server-side apply with strict field validation does), its summary must count its
    results, and reports broken on purpose must be rejected (so the validation itself works)."""
    errors = []
    spec = o.get("spec") or {}
    if o.get("apiVersion") != "apiextensions.k8s.io/v1" or \
            (o.get("metadata") or {}).get("name") != POLICY_REPORT_CRD:
        return [f"only the CRD {POLICY_REPORT_CRD} (apiextensions.k8s.io/v1) is installed"]
    if spec.get("group") != "wgpolicyk8s.io" or spec.get("scope") != "Namespaced" or \
            (spec.get("names") or {}).get("kind") != "PolicyReport":
        errors.append("must define the namespaced wgpolicyk8s.io PolicyReport")
    versions = [v for v in spec.get("versions") or [] if v.get("name") == "v1alpha2"]
    if len(versions) != 1 or not versions[0].get("served") or not versions[0].get("storage"):
        return errors + ["must serve and store v1alpha2 (the version mlnetpol writes)"]
    schema = ((versions[0].get("schema") or {}).get("openAPIV3Schema")) or {}
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        return errors + [f"openAPIV3Schema is not a valid schema: {e.message}"]
    closed = copy.deepcopy(schema)
    strict(closed)
    validator = jsonschema.Draft7Validator(closed)

    def problems(report):
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                for e in validator.iter_errors(report)]
    report = POLICY_REPORT_EXAMPLE
    if not report.get("results"):
        return errors + ["the example PolicyReport has no results to validate"]
    errors += [f"mlnetpol's PolicyReport: {e}" for e in problems(report)]
    summary = report.get("summary") or {}
    if summary.get("fail") != len(report["results"]) or \
            sum(summary.get(k, 0) for k in ("pass", "warn", "error", "skip")) != 0:
        errors.append("mlnetpol's PolicyReport: summary does not count its results")
    for r in report["results"]:
        if r.get("source") != "mlnetpol" or len(r.get("resources") or []) != 1:
            errors.append("mlnetpol's PolicyReport: each result has source mlnetpol and one "
                          "resource")
    broken = [("result", "failed"), ("severity", "critical"), ("unknown", "x")]
    for field, value in broken:
        bad = copy.deepcopy(report)
        bad["results"][0][field] = value
        if not problems(bad):
            errors.append(f"schema accepts a result with {field}={value!r}")
    return errors


def check_cert_manager_object(o):
    """cert-manager.io/v1 Issuer and Certificate: no schema in tests/schemas, so by structure."""
    errors = []
    if o.get("apiVersion") != "cert-manager.io/v1":
        errors.append(f"apiVersion {o.get('apiVersion')} is not cert-manager.io/v1")
    meta = o.get("metadata") or {}
    if not meta.get("name") or meta.get("namespace") != NAMESPACE:
        errors.append(f"metadata needs a name and namespace {NAMESPACE}")
    spec = o.get("spec")
    if not isinstance(spec, dict):
        return errors + ["spec missing"]
    kind = o.get("kind")
    if kind == "Issuer":
        kinds = [k for k in ("selfSigned", "ca", "acme", "vault", "venafi") if k in spec]
        if len(kinds) != 1:
            errors.append(f"Issuer needs exactly one issuer type, has {kinds}")
        if "ca" in spec and not (spec["ca"] or {}).get("secretName"):
            errors.append("Issuer ca.secretName missing")
    elif kind == "Certificate":
        known = {"secretName", "commonName", "dnsNames", "duration", "renewBefore", "usages",
                 "privateKey", "issuerRef", "isCA", "ipAddresses", "subject", "secretTemplate"}
        unknown = set(spec) - known
        if unknown:
            errors.append(f"Certificate spec has unknown fields {sorted(unknown)}")
        if not isinstance(spec.get("secretName"), str) or not spec.get("secretName"):
            errors.append("Certificate spec.secretName missing")
        ref = spec.get("issuerRef") or {}
        if not ref.get("name") or ref.get("kind", "Issuer") not in ("Issuer", "ClusterIssuer"):
            errors.append("Certificate spec.issuerRef needs a name and kind Issuer|ClusterIssuer")
        key = spec.get("privateKey") or {}
        if key.get("algorithm") != "ECDSA" or key.get("size") != 256:
            errors.append("Certificate privateKey must be ECDSA 256 (P-256, as `mlnetpol certs`)")
        for field in ("duration", "renewBefore"):
            if field in spec and not re.fullmatch(r"(\d+(\.\d+)?(h|m|s))+", str(spec[field])):
                errors.append(f"Certificate {field} '{spec[field]}' is not a Go duration")
        if not spec.get("isCA") and not spec.get("dnsNames"):
            errors.append("serving Certificate needs dnsNames")
    else:
        errors.append(f"unexpected cert-manager kind {kind}")
    return errors


def check_webhooks(objs, overlay, ca_pem):
    errors = []
    mutating = one(errors, objs, "MutatingWebhookConfiguration", NAME)
    validating = one(errors, objs, "ValidatingWebhookConfiguration", NAME)
    if not mutating or not validating:
        return errors
    certificates = {f"{c['metadata'].get('namespace')}/{c['metadata']['name']}": c
                    for c in find(objs, "Certificate")}
    names = set()
    for config, path in ((mutating, "/mutate"), (validating, "/validate")):
        kind = config["kind"]
        annotations = config.get("metadata", {}).get("annotations") or {}
        inject = annotations.get("cert-manager.io/inject-ca-from")
        if overlay == "cert-manager":
            cert = certificates.get(inject or "")
            if cert is None:
                errors.append(f"{kind}: cert-manager.io/inject-ca-from '{inject}' names no "
                              f"Certificate of this overlay")
            elif cert["spec"].get("secretName") != SECRET:
                errors.append(f"{kind}: injected Certificate does not write Secret {SECRET}")
        elif inject:
            errors.append(f"{kind}: inject-ca-from set without cert-manager")
        for w in config.get("webhooks") or []:
            wname = w.get("name", "")
            where = f"{kind} webhook {wname}"
            if wname in names:
                errors.append(f"{where}: duplicate webhook name")
            names.add(wname)
            if wname.count(".") < 2:
                errors.append(f"{where}: name must be a fully qualified domain name")
            if w.get("admissionReviewVersions") != ["v1"]:
                errors.append(f"{where}: admissionReviewVersions must be [v1], is "
                              f"{w.get('admissionReviewVersions')}")
            if w.get("sideEffects") != "NoneOnDryRun":
                errors.append(f"{where}: sideEffects must be NoneOnDryRun, is {w.get('sideEffects')}")
            t = w.get("timeoutSeconds")
            if not isinstance(t, int) or not 1 <= t <= 5:
                errors.append(f"{where}: timeoutSeconds must be 1..5, is {t}")
            if kind == "MutatingWebhookConfiguration" and w.get("reinvocationPolicy") != "IfNeeded":
                errors.append(f"{where}: reinvocationPolicy must be IfNeeded, is "
                              f"{w.get('reinvocationPolicy')}")
            cc = w.get("clientConfig") or {}
            svc = cc.get("service") or {}
            if "url" in cc or svc.get("name") != NAME or svc.get("namespace") != NAMESPACE \
                    or svc.get("path") != path or svc.get("port", 443) != 443:
                errors.append(f"{where}: clientConfig must be service {NAMESPACE}/{NAME}:443 "
                              f"path {path}, is {cc}")
            bundle = cc.get("caBundle")
            if overlay == "cert-manager":
                if bundle:
                    errors.append(f"{where}: caBundle is set although cainjector owns it")
            elif overlay in SELF_MANAGED:
                if bundle is not None:
                    errors.append(f"{where}: caBundle is set in the manifests although the leader "
                                  f"keeps it (--cert-management=self)")
            elif ca_pem is None or bundle is None or \
                    base64.b64decode("".join(bundle.split())) != ca_pem:
                errors.append(f"{where}: caBundle is not the base64 of the issued ca.crt")
            errors += check_webhook_scope(w, where, kind, overlay)
    # Together the webhooks see every resource the engine handles.
    for config in (mutating, validating):
        hooks = config.get("webhooks") or []
        missing = covers(hooks, {"": {"namespaces"}, **WORKLOADS}, "CREATE")
        if missing:
            errors.append(f"{config['kind']}: no CREATE rule for {missing}")
    for op in ("CREATE", "UPDATE", "DELETE"):
        missing = covers(validating.get("webhooks") or [], POLICIES, op)
        if missing:
            errors.append(f"ValidatingWebhookConfiguration: no {op} rule for {missing}")
    # The managed cluster-wide policy is protected as the namespaced ones are (no tenant can create
    # one: it is cluster-scoped).
    for op in ("UPDATE", "DELETE"):
        missing = covers(validating.get("webhooks") or [],
                         {"cilium.io": {"ciliumclusterwidenetworkpolicies"}}, op)
        if missing:
            errors.append(f"ValidatingWebhookConfiguration: no {op} rule for {missing}")
    missing = covers(validating.get("webhooks") or [],
                     {"": NAMESPACE_SUBRESOURCES | {POD_STATUS}}, "UPDATE")
    if missing:
        errors.append(f"ValidatingWebhookConfiguration: no UPDATE rule for {missing}")
    guards = [w for w in validating.get("webhooks") or [] if w.get("objectSelector") is not None
              and any(r == "namespaces" for _, r, _ in rule_resources(w))]
    if len(guards) != 1:
        errors.append("ValidatingWebhookConfiguration: expected one namespace-label guard (namespaces "
                      f"UPDATE with an objectSelector on {SECURED_LABEL[0]}), found {len(guards)}")
    return errors


def check_webhook_scope(w, where, kind, overlay):
    errors = []
    resources = rule_resources(w)
    for g, r, ops in resources:
        base = r.split("/")[0]
        allowed_sub = g == "" and (r in NAMESPACE_SUBRESOURCES or r == POD_STATUS)
        if "*" in r or ("/" in r and not allowed_sub):
            errors.append(f"{where}: resource '{r}' (wildcards and subresources such as "
                          f"pods/eviction must not go through the webhook)")
        if allowed_sub and (kind != "ValidatingWebhookConfiguration" or ops != {"UPDATE"}):
            errors.append(f"{where}: {r} belongs to the validating webhook, UPDATE only")
        if base in FORBIDDEN_RESOURCES:
            errors.append(f"{where}: never send {r}")
        if "*" in ops or "CONNECT" in ops:
            errors.append(f"{where}: operations {sorted(ops)} on {r}")
    for rule in w.get("rules") or []:
        if "*" in (rule.get("apiGroups") or []):
            errors.append(f"{where}: apiGroups '*' would send leases, events and more")
    selector = w.get("namespaceSelector")
    for ns in NEVER_EXCLUDED:
        # Even labelled as secured, these namespaces never reach the webhook.
        if selector_matches(selector, namespace_labels(ns, SECURED_LABEL)):
            errors.append(f"{where}: namespaceSelector sends namespace {ns}")
    groups = {(g, r) for g, r, _ in resources}
    handles_namespaces = ("", "namespaces") in groups or \
        any(("", r) in groups for r in NAMESPACE_SUBRESOURCES)
    handles_workloads = any((g, r) in groups for g, rs in WORKLOADS.items() for r in rs)
    handles_policies = any((g, r) in groups for g, rs in POLICIES.items() for r in rs)
    handles_pod_status = ("", POD_STATUS) in groups
    if sum([handles_namespaces, handles_workloads, handles_policies, handles_pod_status]) != 1:
        errors.append(f"{where}: mixes namespaces, workloads, policies and pod status in one "
                      f"webhook (their scopes and failure policies differ)")
    obj_sel = w.get("objectSelector")
    # The namespace-label guard: UPDATE of secured namespaces only, so it may fail closed.
    label_guard = handles_namespaces and obj_sel is not None and kind == \
        "ValidatingWebhookConfiguration"
    failure = w.get("failurePolicy")
    if failure not in ("Fail", "Ignore"):
        errors.append(f"{where}: failurePolicy must be set explicitly, is {failure}")
    if handles_namespaces:
        # Namespaces cannot be selected by a label the engine has not put on them yet.
        for ns in ("team-a", "kube-public", "default"):
            if not selector_matches(selector, namespace_labels(ns)):
                errors.append(f"{where}: namespaceSelector misses namespace {ns}")
        if label_guard:
            if selector_matches(obj_sel, namespace_labels("team-a")) or \
                    not selector_matches(obj_sel, namespace_labels("team-a", SECURED_LABEL)) or \
                    not selector_matches(obj_sel, {SECURED_LABEL[0]: "false"}):
                errors.append(f"{where}: objectSelector must select every namespace carrying "
                              f"{SECURED_LABEL[0]} and no other")
            if any(ops != {"UPDATE"} for _, _, ops in resources):
                errors.append(f"{where}: the namespace-label guard is for UPDATE only (a failing "
                              f"webhook must not stop namespace creation)")
            if {r for _, r, _ in resources} != {"namespaces"} | NAMESPACE_SUBRESOURCES:
                errors.append(f"{where}: the namespace-label guard must cover namespaces and "
                              f"{sorted(NAMESPACE_SUBRESOURCES)}")
        elif failure != "Ignore":
            errors.append(f"{where}: failurePolicy must be Ignore: it reaches every namespace")
        if any(ops - {"CREATE", "UPDATE"} for _, _, ops in resources):
            errors.append(f"{where}: namespaces are handled on CREATE and UPDATE only")
    if handles_pod_status:
        if selector_matches(selector, namespace_labels("team-a")) or \
                not selector_matches(selector, namespace_labels("team-a", SECURED_LABEL)):
            errors.append(f"{where}: pods/status must be sent from secured namespaces only")
        if obj_sel is None or selector_matches(obj_sel, {}) or \
                not selector_matches(obj_sel, {LABEL_KEY: "x"}):
            errors.append(f"{where}: objectSelector must select pods carrying {LABEL_KEY}")
    if handles_workloads:
        if selector_matches(selector, namespace_labels("team-a")):
            errors.append(f"{where}: sends workloads from namespaces that are not secured")
        if not selector_matches(selector, namespace_labels("team-a", SECURED_LABEL)):
            errors.append(f"{where}: misses workloads of secured namespaces")
        if any(ops - {"CREATE", "UPDATE"} for _, _, ops in resources):
            errors.append(f"{where}: workloads are handled on CREATE and UPDATE only")
    if handles_policies:
        if kind != "ValidatingWebhookConfiguration":
            errors.append(f"{where}: network policies belong to the validating webhook only")
        if any(ops == {"CREATE", "UPDATE"} for _, _, ops in resources):
            # Tenant policies (the guardrails): every policy of a secured namespace, whatever its
            # labels, since a tenant can write the managed-by label too.
            if any(ops != {"CREATE", "UPDATE"} for _, _, ops in resources):
                errors.append(f"{where}: tenant policies are checked on CREATE and UPDATE only")
            if obj_sel is not None and not selector_matches(obj_sel, {}):
                errors.append(f"{where}: an objectSelector would let tenant policies skip the "
                              f"guardrails")
            if selector_matches(selector, namespace_labels("team-a")):
                errors.append(f"{where}: sends tenant policies from namespaces that are not "
                              f"secured")
            if not selector_matches(selector, namespace_labels("team-a", SECURED_LABEL)):
                errors.append(f"{where}: misses tenant policies of secured namespaces")
        else:
            if any(ops != {"UPDATE", "DELETE"} for _, _, ops in resources):
                errors.append(f"{where}: managed policies are checked on UPDATE and DELETE only")
            if obj_sel is None or selector_matches(obj_sel, {}) or \
                    not selector_matches(obj_sel, dict([MANAGED_BY])):
                errors.append(f"{where}: objectSelector must select "
                              f"{MANAGED_BY[0]}={MANAGED_BY[1]}")
    # A status webhook must never block the kubelet; namespaces reach every namespace, except the
    # label guard, scoped to secured ones; the audit rollout denies nothing when mlnetpol is down.
    # The workload webhooks fail open: the ValidatingAdmissionPolicies the reconciler keeps
    # (issue 24) judge workloads while every replica is down.
    fail_open = overlay == "audit" or handles_pod_status or \
        (handles_namespaces and not label_guard) or handles_workloads
    expected = "Ignore" if fail_open else "Fail"
    if failure in ("Fail", "Ignore") and failure != expected:
        errors.append(f"{where}: failurePolicy {failure}, expected {expected} in overlay {overlay}")
    return errors


def duration_seconds(text):
    """--shutdown-grace values: 500ms, 10s, 2m (the server's parse_duration)."""
    m = re.fullmatch(r"(\d+)(ms|s|m)", text or "")
    if not m:
        return None
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


# The preStop pause must outlast the endpoint removal reaching every API server (Endpoints
# controller, then kube-proxy on the control-plane nodes: typically 1-2 s); the grace period must
# leave time to spare after pause + --shutdown-grace (the kubelet's SIGKILL ends the drain).
MIN_PRESTOP_PAUSE = 3
MIN_GRACE_MARGIN = 5


def check_shutdown(pod, c):
    """Rolling updates must not refuse admissions: a preStop pause lets endpoints drain before
    SIGTERM, and the grace period covers the pause plus the server's --shutdown-grace."""
    errors = []
    pre = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command")
    pause = None
    if pre and len(pre) == 4 and pre[0].endswith("/mlnetpol") and pre[1:3] == ["pause", "--seconds"]:
        pause = int(pre[3]) if pre[3].isdigit() else None
    if not pause:
        errors.append(f"Deployment: preStop must run [/usr/local/bin/mlnetpol, pause, --seconds, N>0]"
                      f", is {pre}")
    elif pause < MIN_PRESTOP_PAUSE:
        errors.append(f"Deployment: preStop pause {pause}s is shorter than the {MIN_PRESTOP_PAUSE}s "
                      "an endpoint removal may take to reach the API servers")
    grace = duration_seconds(arg_value(c.get("args") or [], "--shutdown-grace") or "25s")
    period = pod.get("terminationGracePeriodSeconds", 30)
    if pause and grace is not None and period < pause + grace + MIN_GRACE_MARGIN:
        errors.append(f"Deployment: terminationGracePeriodSeconds {period} must be at least the "
                      f"preStop pause {pause}s + --shutdown-grace {grace:g}s + "
                      f"{MIN_GRACE_MARGIN}s to spare")
    if grace is None:
        errors.append("Deployment: --shutdown-grace is not a duration")
    return errors


def check_workload(objs, overlay):
    errors = []
    dep = one(errors, objs, "Deployment", NAME)
    if not dep:
        return errors
    spec = dep.get("spec") or {}
    tmpl = spec.get("template") or {}
    pod_labels = (tmpl.get("metadata") or {}).get("labels") or {}
    pod = tmpl.get("spec") or {}
    if spec.get("replicas") != 3:
        errors.append(f"Deployment: replicas must be 3, is {spec.get('replicas')}")
    if pod.get("priorityClassName") != "system-cluster-critical":
        errors.append("Deployment: priorityClassName must be system-cluster-critical, is "
                      f"{pod.get('priorityClassName')}")
    if (spec.get("strategy") or {}).get("rollingUpdate", {}).get("maxUnavailable") not in (0, "0%"):
        errors.append("Deployment: rolling updates must keep every replica (maxUnavailable 0)")
    if pod.get("serviceAccountName") != NAME:
        errors.append("Deployment: serviceAccountName must be mlnetpol")
    anti = ((pod.get("affinity") or {}).get("podAntiAffinity") or {})
    terms = [t.get("podAffinityTerm", t) for t in
             (anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []) +
             (anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])]
    if not any(selector_matches(t.get("labelSelector"), pod_labels) and t.get("topologyKey")
               for t in terms):
        errors.append("Deployment: needs pod anti-affinity between its replicas")
    spread = pod.get("topologySpreadConstraints") or []
    for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname"):
        if not any(selector_matches(c.get("labelSelector"), pod_labels) and
                   c.get("topologyKey") == key for c in spread):
            errors.append(f"Deployment: needs a topology spread constraint over its replicas by {key}")
    for c in pod.get("containers") or []:
        env = {e.get("name"): ((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
               for e in c.get("env") or []}
        for name, path in DOWNWARD_ENV.items():
            if env.get(name) != path:
                errors.append(f"Deployment: container {c.get('name')} needs env {name} from the "
                              f"downward API ({path}) for leader election")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            errors.append(f"Deployment: {field} is not allowed")
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True:
        errors.append("Deployment: pod securityContext.runAsNonRoot must be true")
    if psc.get("runAsUser", 65532) == 0:
        errors.append("Deployment: must not run as UID 0")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for v in volumes.values():
        if "hostPath" in v:
            errors.append(f"Deployment: hostPath volume {v['name']}")
    containers = pod.get("containers") or []
    if len(containers) != 1:
        return errors + [f"Deployment: expected one container, found {len(containers)}"]
    c = containers[0]
    sc = c.get("securityContext") or {}
    seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
    if seccomp != "RuntimeDefault":
        errors.append(f"Deployment: seccompProfile must be RuntimeDefault, is {seccomp}")
    if sc.get("allowPrivilegeEscalation") is not False:
        errors.append("Deployment: allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        errors.append("Deployment: readOnlyRootFilesystem must be true")
    if sc.get("privileged"):
        errors.append("Deployment: privileged container")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []) or caps.get("add"):
        errors.append("Deployment: capabilities must drop ALL and add none")
    if sc.get("runAsUser") == 0:
        errors.append("Deployment: container must not run as UID 0")
    res = c.get("resources") or {}
    for section, r in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
        if r not in (res.get(section) or {}):
            errors.append(f"Deployment: resources.{section}.{r} missing")
    if "cpu" in (res.get("limits") or {}):
        errors.append("Deployment: no CPU limit (CFS throttling delays admission answers)")
    errors += check_shutdown(pod, c)
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or port_number(c, get.get("port")) != 8080 or \
                get.get("scheme", "HTTP") != "HTTP":
            errors.append(f"Deployment: {probe} must be HTTP GET {path} on port 8080")
    args = c.get("args") or []
    if c.get("command"):
        errors.append("Deployment: command overrides the image's ENTRYPOINT [mlnetpol, serve]")
    for flag, want in (("--port", "9443"), ("--metrics-bind-address", "0.0.0.0:8080"),
                       ("--log-format", "json"), ("--config", CONFIG_PATH)):
        if arg_value(args, flag) != want:
            errors.append(f"Deployment: needs {flag} {want}, has {arg_value(args, flag)}")
    mode = "self" if overlay in SELF_MANAGED else "external"
    if arg_value(args, "--cert-management") != mode:
        errors.append(f"Deployment: needs --cert-management {mode}, has "
                      f"{arg_value(args, '--cert-management')}")
    for flag, file in (("--tls-cert-file", "tls.crt"), ("--tls-key-file", "tls.key")):
        if mode == "self" and arg_value(args, flag) is not None:
            errors.append(f"Deployment: {flag} is for --cert-management=external only")
        elif arg_value(args, flag) not in (None, f"{CERT_DIR}/{file}"):
            errors.append(f"Deployment: {flag} must be {CERT_DIR}/{file} (the Secret's mount)")
    ports = {p.get("containerPort") for p in c.get("ports") or []}
    if not {9443, 8080} <= ports:
        errors.append(f"Deployment: container ports must include 9443 and 8080, are {ports}")
    mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
    cert_mount = mounts.get(CERT_DIR)
    cert_vol = volumes.get(cert_mount.get("name")) if cert_mount else None
    if mode == "self":
        # The leader creates the Secret: a pod mounting it could not start before it exists.
        if any((v.get("secret") or {}).get("secretName") == SECRET for v in volumes.values()):
            errors.append(f"Deployment: must not mount Secret {SECRET} (self-managed: served from "
                          f"a watch)")
    elif not cert_vol or (cert_vol.get("secret") or {}).get("secretName") != SECRET \
            or cert_mount.get("subPath"):
        errors.append(f"Deployment: Secret {SECRET} must be mounted (whole) at {CERT_DIR}")
    cfg_mount = mounts.get(os.path.dirname(CONFIG_PATH))
    cfg_vol = volumes.get(cfg_mount.get("name")) if cfg_mount else None
    if not cfg_vol or (cfg_vol.get("configMap") or {}).get("name") != CONFIGMAP \
            or cfg_mount.get("subPath"):
        errors.append(f"Deployment: ConfigMap {CONFIGMAP} must be mounted (whole) at "
                      f"{os.path.dirname(CONFIG_PATH)}")
    ann = (tmpl.get("metadata") or {}).get("annotations") or {}
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != "8080":
        errors.append("Deployment: metrics port 8080 must be annotated for scraping")

    pdbs = [p for p in find(objs, "PodDisruptionBudget")
            if selector_matches((p.get("spec") or {}).get("selector"), pod_labels)]
    if len(pdbs) != 1:
        errors.append(f"PodDisruptionBudget: expected one covering the webhook pods, found "
                      f"{len(pdbs)}")
    elif pdbs[0]["spec"].get("maxUnavailable") != 1:
        # One at a time, whatever the replica count: two of three keep serving during a drain.
        errors.append("PodDisruptionBudget: must allow exactly one replica down (maxUnavailable 1)")

    quotas = [q for q in find(objs, "ResourceQuota")
              if "system-cluster-critical" in str((q.get("spec") or {}).get("scopeSelector"))]
    if pod.get("priorityClassName") == "system-cluster-critical" and not quotas:
        errors.append("ResourceQuota: none admits the system-cluster-critical priority class")

    svc = one(errors, objs, "Service", NAME)
    if svc:
        sspec = svc.get("spec") or {}
        if not sspec.get("selector") or not selector_matches(
                {"matchLabels": sspec["selector"]}, pod_labels):
            errors.append("Service: selector does not select the webhook pods")
        https = [p for p in sspec.get("ports") or [] if p.get("port") == 443]
        if len(https) != 1 or port_number(c, https[0].get("targetPort")) != 9443:
            errors.append("Service: must map port 443 to the container's 9443")

    if overlay == "cert-manager":
        serving = [x for x in find(objs, "Certificate")
                   if (x.get("spec") or {}).get("secretName") == SECRET]
        if len(serving) != 1:
            errors.append(f"Certificate: expected one writing Secret {SECRET}")
        else:
            s = serving[0]["spec"]
            want = [NAME, f"{NAME}.{NAMESPACE}", f"{NAME}.{NAMESPACE}.svc",
                    f"{NAME}.{NAMESPACE}.svc.cluster.local"]
            if sorted(s.get("dnsNames") or []) != sorted(want):
                errors.append(f"Certificate: dnsNames must be {want}")
            if "server auth" not in (s.get("usages") or []):
                errors.append("Certificate: usages must include server auth")
            issuers = {i["metadata"]["name"] for i in find(objs, "Issuer")}
            for cert in find(objs, "Certificate"):
                ref = cert["spec"].get("issuerRef") or {}
                if ref.get("name") not in issuers:
                    errors.append(f"Certificate/{cert['metadata']['name']}: issuer "
                                  f"{ref.get('name')} is not in the overlay")
        if find(objs, "Secret", SECRET):
            errors.append(f"Secret {SECRET} must come from cert-manager in this overlay")
    elif overlay in SELF_MANAGED:
        if find(objs, "Secret"):
            errors.append(f"Secret: none must be in the manifests of a self-managed overlay (the "
                          f"leader creates {SECRET}; no key in the repository)")
    else:
        secret = one(errors, objs, "Secret", SECRET)
        if secret and (secret.get("type") != "kubernetes.io/tls" or
                       not {"tls.crt", "tls.key", "ca.crt"} <= set(secret.get("data") or {})):
            errors.append(f"Secret {SECRET}: must be kubernetes.io/tls with tls.crt, tls.key, ca.crt")
    return errors


def check_rbac_and_namespaces(objs):
    errors = []
    ns = one(errors, objs, "Namespace", NAMESPACE)
    if ns and (ns["metadata"].get("labels") or {}).get(
            "pod-security.kubernetes.io/enforce") != "restricted":
        errors.append(f"Namespace {NAMESPACE}: must enforce the restricted Pod Security Standard")
    for o in objs:
        meta = o.get("metadata") or {}
        scoped = o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding",
                                   "CustomResourceDefinition",
                                   "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
        if scoped and meta.get("namespace") != NAMESPACE:
            errors.append(f"{o['kind']}/{meta.get('name')}: must live in {NAMESPACE}")
    one(errors, objs, "ServiceAccount", NAME)
    role = one(errors, objs, "ClusterRole", NAME)

    def canonical(rules):
        return sorted(tuple(tuple(sorted(part)) for part in rule) for rule in rules)

    def parts(r):
        return (r.get("apiGroups") or [], r.get("resources") or [], r.get("verbs") or [],
                r.get("resourceNames") or [])
    if role:
        rules = [parts(r) for r in role.get("rules") or []]
        if canonical(rules) != canonical(EXPECTED_CLUSTER_RULES):
            errors.append(f"ClusterRole {NAME}: rules must be exactly "
                          f"{canonical(EXPECTED_CLUSTER_RULES)}, are {canonical(rules)}")
    roles = find(objs, "Role")
    role_rules = [parts(r) for role in roles for r in role.get("rules") or []]
    if not roles or canonical(role_rules) != canonical(EXPECTED_ROLE_RULES) or any(
            (role.get("metadata") or {}).get("namespace") != NAMESPACE for role in roles):
        errors.append(f"Role: exactly {canonical(EXPECTED_ROLE_RULES)} (leases, the TLS Secret) in "
                      f"{NAMESPACE}, are {canonical(role_rules)}")
    bindings = find(objs, "ClusterRoleBinding") + find(objs, "RoleBinding")
    for b in bindings:
        subjects = b.get("subjects") or []
        if subjects != [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]:
            errors.append(f"{b['kind']}/{b['metadata']['name']}: must bind only the mlnetpol "
                          f"ServiceAccount")
        target = find(objs, b["roleRef"]["kind"], b["roleRef"]["name"])
        if not target:
            errors.append(f"{b['kind']}/{b['metadata']['name']}: roleRef names nothing rendered")
    for r in find(objs, "ClusterRole") + roles:
        for rule in r.get("rules") or []:
            resources = rule.get("resources") or []
            if "*" in resources or "*" in (rule.get("verbs") or []) or (
                    r["kind"] == "ClusterRole" and "secrets" in resources):
                errors.append(f"{r['kind']}/{r['metadata']['name']}: no '*' and no Secrets "
                              f"outside {NAMESPACE}")
    return errors


def config_keys(source):
    """The YAML keys of the configuration: the fields of policy::config (enforcement is written
    enforcement_mode)."""
    with open(os.path.join(source, "policy", "config.hpp")) as fh:
        text = fh.read()
    body = text[text.index("struct config {"):]
    body = body[:body.index("\n};")]
    keys = set(re.findall(r"^\s+[\w:<>, ]+?\s(\w+)\s*(?:=|\{|;)", body, re.M))
    keys.discard("operator")
    keys = {"enforcement_mode" if k == "enforcement" else k for k in keys}
    if len(keys) < 10:
        raise SystemExit(f"could not read the configuration fields from policy/config.hpp: {keys}")
    return keys


def mlnetpol_render(binary, config_text, *flags):
    """(exit code, stdout, stderr) of `mlnetpol render [--config <text>] flags`."""
    args = [binary, "render", *flags]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as fh:
        if config_text is not None:
            fh.write(config_text)
            fh.flush()
            args += ["--config", fh.name]
        proc = subprocess.run(args, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr.strip()


def check_admission_policy_names(binary):
    """Every admission policy and binding `render` makes, for configurations that give each role
    its own namespaces and several roles one namespace, is one RBAC lets mlnetpol change."""
    errors = []
    configs = [None, "ml_training_namespaces: [a]\nml_inference_namespaces: [a, b]\n",
               "ml_training_namespaces: [a]\nml_inference_namespaces: [b]\ndeny_host_network: false\n"]
    for text in configs:
        code, out, err = mlnetpol_render(binary, text, "--admission-policies", "v1", "-o", "json")
        if code != 0:
            errors.append(f"render --admission-policies: exit {code}: {err}")
            continue
        doc = json.loads(out)
        items = doc.get("items", []) if isinstance(doc, dict) else doc
        for o in items:
            name = (o.get("metadata") or {}).get("name")
            if name not in ADMISSION_POLICY_NAMES:
                errors.append(f"{o.get('kind')} {name}: rendered but not in the ClusterRole's "
                              f"resourceNames (mlnetpol could not repair or prune it)")
    return errors


def check_clusterwide_policy_name(binary):
    """The cluster-wide policy `render` makes in Cilium mode is the one RBAC lets mlnetpol change."""
    code, out, err = mlnetpol_render(binary, "cilium_mode: true\n", "-o", "json")
    if code != 0:
        return [f"render (Cilium mode): exit {code}: {err}"]
    names = [o["metadata"]["name"] for o in json.loads(out).get("items", [])
             if o.get("kind") == "CiliumClusterwideNetworkPolicy"]
    if names != [CLUSTERWIDE_POLICY]:
        return [f"render (Cilium mode): CiliumClusterwideNetworkPolicies {names}, RBAC names "
                f"[{CLUSTERWIDE_POLICY}] only"]
    return []


def check_config(objs, overlay, base_config, keys, binary):
    errors = []
    cm = one(errors, objs, "ConfigMap", CONFIGMAP)
    if not cm:
        return errors
    text = (cm.get("data") or {}).get(os.path.basename(CONFIG_PATH))
    if text is None:
        return errors + [f"ConfigMap {CONFIGMAP}: no key {os.path.basename(CONFIG_PATH)}"]
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return errors + [f"ConfigMap {CONFIGMAP}: not YAML: {e}"]
    unknown = sorted(set(config) - keys)
    if unknown:
        errors.append(f"ConfigMap {CONFIGMAP}: unknown keys {unknown}")
    changed = {k: config.get(k) for k in set(config) | set(base_config)
               if config.get(k) != base_config.get(k)}
    if changed != CONFIG_CHANGES[overlay]:
        errors.append(f"ConfigMap {CONFIGMAP}: overlay {overlay} changes {changed} from "
                      f"manifests/base/config.yaml, expected {CONFIG_CHANGES[overlay]}")
    # The loader `serve --config` uses must accept the file as it is.
    code, out, err = mlnetpol_render(binary, text, "--summary")
    if code != 0:
        errors.append(f"ConfigMap {CONFIGMAP}: mlnetpol rejects config.yaml: {err}")
    elif json.loads(out).get("cilium_mode_enabled") != bool(config.get("cilium_mode")):
        errors.append(f"ConfigMap {CONFIGMAP}: mlnetpol does not read cilium_mode from it: {out}")
    return errors


def check_base_config_is_default(source, binary):
    """manifests/base/config.yaml claims to be the built-in defaults: both render the same."""
    with open(os.path.join(source, "manifests", "base", "config.yaml")) as fh:
        text = fh.read()
    default = mlnetpol_render(binary, None, "-o", "json")
    from_file = mlnetpol_render(binary, text, "-o", "json")
    if default[0] != 0 or from_file[0] != 0:
        return [f"mlnetpol render failed: {default[2]} {from_file[2]}"]
    if default[1] != from_file[1]:
        return ["manifests/base/config.yaml renders other policies than the built-in defaults"]
    return []


def overlay_config(objs):
    cm = find(objs, "ConfigMap", CONFIGMAP)
    try:
        text = (cm[0].get("data") or {}).get(os.path.basename(CONFIG_PATH)) if cm else None
        config = yaml.safe_load(text) if text else {}
    except yaml.YAMLError:
        return {}  # check_config reports it
    return config if isinstance(config, dict) else {}


def check_network_policy(objs):
    """Who reaches the pods (issue 25): the webhook port only the API server (api_server_cidrs in
    standard mode when set, the kube-apiserver entity in Cilium mode), the metrics port (/metrics,
    /status) only the monitoring namespace, no other port."""
    errors = []
    dep = find(objs, "Deployment", NAME)
    if not dep:
        return errors
    tmpl = dep[0]["spec"]["template"]
    pod_labels = tmpl["metadata"].get("labels") or {}
    c = tmpl["spec"]["containers"][0]
    webhook_port, metrics_port = port_number(c, "webhook"), port_number(c, "metrics")
    config = overlay_config(objs)
    cidrs = sorted(config.get("api_server_cidrs") or [])
    monitoring = config.get("monitoring_namespace", "monitoring")
    cilium = bool(config.get("cilium_mode"))
    nps = [o for o in find(objs, "NetworkPolicy")
           if selector_matches((o.get("spec") or {}).get("podSelector"), pod_labels)]
    cnps = [o for o in find(objs, "CiliumNetworkPolicy")
            if selector_matches((o.get("spec") or {}).get("endpointSelector"), pod_labels)]
    wanted, other = ("CiliumNetworkPolicy", nps) if cilium else ("NetworkPolicy", cnps)
    mine = cnps if cilium else nps
    if len(mine) != 1 or mine[0]["metadata"].get("name") != NAME:
        return errors + [f"{wanted}/{NAME}: exactly one must select the mlnetpol pods, found "
                         f"{[o['metadata'].get('name') for o in mine]}"]
    if other:
        errors.append(f"{other[0]['kind']}/{other[0]['metadata'].get('name')}: a second kind of "
                      f"policy selects the mlnetpol pods and would widen {wanted}/{NAME}")
    spec = mine[0].get("spec") or {}
    if not cilium and "Ingress" not in (spec.get("policyTypes") or []):
        errors.append(f"NetworkPolicy/{NAME}: policyTypes must include Ingress")
    monitoring_peer = ({"k8s:io.kubernetes.pod.namespace": monitoring} if cilium
                       else {"namespaceSelector": {"matchLabels": {
                           "kubernetes.io/metadata.name": monitoring}}})
    for i, rule in enumerate(spec.get("ingress") or []):
        where = f"{wanted}/{NAME} ingress[{i}]"
        if cilium:
            ports = [port_number(c, int(p["port"]) if str(p.get("port")).isdigit() else p["port"])
                     for tp in rule.get("toPorts") or [] for p in tp.get("ports") or []]
            peers = {k: v for k, v in rule.items() if k != "toPorts"}
        else:
            ports = [port_number(c, p.get("port")) for p in rule.get("ports") or []]
            peers = rule.get("from") or []
        if not ports:
            errors.append(f"{where}: opens every port; name the webhook or the metrics port")
        for port in ports:
            if port == webhook_port:
                if cilium and peers != {"fromEntities": ["kube-apiserver"]}:
                    errors.append(f"{where}: the webhook port must be open to fromEntities "
                                  f"[kube-apiserver] only, is open to {peers}")
                if not cilium and cidrs and sorted(
                        (p.get("ipBlock") or {}).get("cidr") for p in peers) != cidrs:
                    errors.append(f"{where}: the webhook port must be open to exactly "
                                  f"api_server_cidrs {cidrs} of config.yaml, is open to {peers}")
                if not cilium and cidrs and any(set(p) != {"ipBlock"} for p in peers):
                    errors.append(f"{where}: the webhook port must be open to api_server_cidrs "
                                  f"only, is also open to {peers}")
            elif port == metrics_port:
                if (cilium and peers != {"fromEndpoints": [{"matchLabels": monitoring_peer}]}) or (
                        not cilium and peers != [monitoring_peer]):
                    errors.append(f"{where}: the metrics port (/metrics, /status) must be open to "
                                  f"the monitoring namespace {monitoring!r} only, is open to "
                                  f"{peers or 'every source'}")
            else:
                errors.append(f"{where}: opens port {port}, which mlnetpol does not serve")
    return errors


def check_policy_report_component(objs):
    if len(find(objs, "CustomResourceDefinition", POLICY_REPORT_CRD)) != 1:
        return [f"the overlay must install the CRD {POLICY_REPORT_CRD} "
                f"(components: [../../components/policy-report])"]
    return []


def check_overlay(objs, overlay, schemas, ca_pem, base_config, keys, binary):
    return (check_schemas(objs, schemas) + check_policy_report_component(objs) + check_webhooks(objs, overlay, ca_pem) +
            check_workload(objs, overlay) + check_rbac_and_namespaces(objs) +
            check_config(objs, overlay, base_config, keys, binary) + check_network_policy(objs))


# ----------------------------------------------------------------------------- self-test

def breakages():
    """(description, expected error fragment, function that breaks the object list[, overlay])."""

    def webhook(objs, kind, index):
        return find(objs, kind, NAME)[0]["webhooks"][index]

    def dep(objs):
        return find(objs, "Deployment", NAME)[0]

    def container(objs):
        return dep(objs)["spec"]["template"]["spec"]["containers"][0]

    mw, vw = "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"
    return [
        ("timeout too long", "timeoutSeconds must be 1..5",
         lambda o: webhook(o, vw, 1).__setitem__("timeoutSeconds", 10)),
        ("v1beta1 reviews", "admissionReviewVersions must be [v1]",
         lambda o: webhook(o, mw, 0).__setitem__("admissionReviewVersions", ["v1", "v1beta1"])),
        ("side effects", "sideEffects must be NoneOnDryRun",
         lambda o: webhook(o, vw, 0).__setitem__("sideEffects", "Some")),
        ("no reinvocation", "reinvocationPolicy must be IfNeeded",
         lambda o: webhook(o, mw, 1).__setitem__("reinvocationPolicy", "Never")),
        ("kube-system not excluded", "sends namespace kube-system",
         lambda o: webhook(o, mw, 0)["namespaceSelector"]["matchExpressions"][0].__setitem__(
             "values", ["kube-node-lease", NAMESPACE])),
        ("no namespaceSelector", "sends namespace mlnetpol-system",
         lambda o: webhook(o, vw, 1).pop("namespaceSelector")),
        ("pods from every namespace", "not secured",
         lambda o: webhook(o, mw, 1)["namespaceSelector"].pop("matchLabels")),
        ("PolicyReport CRD left out", "must install the CRD",
         lambda o: o.remove(find(o, "CustomResourceDefinition", POLICY_REPORT_CRD)[0])),
        ("PolicyReport schema without fail", "mlnetpol's PolicyReport: results/0/result",
         lambda o: find(o, "CustomResourceDefinition", POLICY_REPORT_CRD)[0]["spec"]["versions"][0]
         ["schema"]["openAPIV3Schema"]["properties"]["results"]["items"]["properties"]["result"]
         .__setitem__("enum", ["pass", "warn"])),
        ("leases sent", "never send leases",
         lambda o: webhook(o, vw, 1)["rules"].append(
             {"apiGroups": ["coordination.k8s.io"], "apiVersions": ["v1"],
              "operations": ["UPDATE"], "resources": ["leases"]})),
        ("eviction sent", "subresources",
         lambda o: webhook(o, vw, 1)["rules"][0]["resources"].append("pods/eviction")),
        ("statefulsets missing", "apps/statefulsets",
         lambda o: webhook(o, mw, 1)["rules"][1].__setitem__("resources", ["deployments"])),
        ("policies unselected", "objectSelector must select",
         lambda o: webhook(o, vw, 2).pop("objectSelector")),
        ("tenant policies skip by label", "skip the guardrails",
         lambda o: webhook(o, vw, 5).__setitem__(
             "objectSelector", {"matchLabels": {"team": "x"}})),
        ("tenant policies from every namespace", "sends tenant policies from namespaces",
         lambda o: webhook(o, vw, 5)["namespaceSelector"].pop("matchLabels")),
        ("tenant policies unchecked on CREATE", "no CREATE rule for",
         lambda o: [r.__setitem__("operations", ["UPDATE"]) for r in webhook(o, vw, 5)["rules"]]),
        ("tenant policies fail open", "expected Fail",
         lambda o: webhook(o, vw, 5).__setitem__("failurePolicy", "Ignore")),
        ("namespaces fail closed", "must be Ignore",
         lambda o: webhook(o, mw, 0).__setitem__("failurePolicy", "Fail")),
        ("namespace-label guard fails open", "expected Fail",
         lambda o: webhook(o, vw, 3).__setitem__("failurePolicy", "Ignore")),
        ("namespace-label guard on every namespace", "no other",
         lambda o: webhook(o, vw, 3)["objectSelector"]["matchExpressions"][0].__setitem__(
             "operator", "DoesNotExist")),
        ("namespace-label guard on CREATE", "UPDATE only",
         lambda o: webhook(o, vw, 3)["rules"][0].__setitem__("operations", ["CREATE", "UPDATE"])),
        ("namespace-label guard without status", "must cover namespaces",
         lambda o: webhook(o, vw, 3)["rules"][0].__setitem__("resources", ["namespaces"])),
        ("no namespace-label guard", "expected one namespace-label guard",
         lambda o: webhook(o, vw, 3).pop("objectSelector")),
        ("pod status fails closed", "expected Ignore",
         lambda o: webhook(o, vw, 4).__setitem__("failurePolicy", "Fail")),
        ("pod status from every namespace", "secured namespaces only",
         lambda o: webhook(o, vw, 4)["namespaceSelector"].pop("matchLabels")),
        ("pod status of every pod", "pods carrying workload-type",
         lambda o: webhook(o, vw, 4).pop("objectSelector")),
        ("no pods/status rule", "no UPDATE rule for ['core/pods/status']",
         lambda o: webhook(o, vw, 4)["rules"][0].__setitem__("resources", ["pods"])),
        ("cilium workloads fail closed", "expected Ignore",
         lambda o: webhook(o, vw, 1).__setitem__("failurePolicy", "Fail"), "cilium"),
        ("standard workloads fail closed", "expected Ignore",
         lambda o: webhook(o, mw, 1).__setitem__("failurePolicy", "Fail")),
        ("wrong caBundle", "caBundle is not the base64",
         lambda o: webhook(o, vw, 2)["clientConfig"].__setitem__(
             "caBundle", base64.b64encode(b"not the CA").decode()), "external"),
        ("caBundle in self-managed manifests", "caBundle is set in the manifests",
         lambda o: webhook(o, mw, 1)["clientConfig"].__setitem__(
             "caBundle", base64.b64encode(b"a CA").decode())),
        ("a Secret in self-managed manifests", "none must be in the manifests",
         lambda o: o.append({"apiVersion": "v1", "kind": "Secret",
                             "metadata": {"name": SECRET, "namespace": NAMESPACE},
                             "type": "kubernetes.io/tls", "data": {}})),
        ("self-managed mounts the Secret", "must not mount Secret",
         lambda o: dep(o)["spec"]["template"]["spec"]["volumes"].append(
             {"name": "certs", "secret": {"secretName": SECRET}})),
        ("no --cert-management", "needs --cert-management self",
         lambda o: container(o)["args"].remove("--cert-management=self")),
        ("external without its mode", "needs --cert-management external",
         lambda o: container(o)["args"].__setitem__(0, "--cert-management=self"), "external"),
        ("files flag in self mode", "--tls-key-file is for --cert-management=external",
         lambda o: container(o)["args"].append("--tls-key-file=" + CERT_DIR + "/tls.key")),
        ("wrong path", "path /mutate",
         lambda o: webhook(o, mw, 1)["clientConfig"]["service"].__setitem__("path", "/validate")),
        ("one replica", "replicas must be 3",
         lambda o: dep(o)["spec"].__setitem__("replicas", 1)),
        ("writable root", "readOnlyRootFilesystem",
         lambda o: container(o)["securityContext"].__setitem__("readOnlyRootFilesystem", False)),
        ("capabilities kept", "drop ALL",
         lambda o: container(o)["securityContext"].pop("capabilities")),
        ("no liveness probe", "livenessProbe",
         lambda o: container(o).pop("livenessProbe")),
        ("PDB allows no eviction", "must allow exactly one replica down",
         lambda o: find(o, "PodDisruptionBudget")[0]["spec"].__setitem__("maxUnavailable", 0)),
        ("CPU limit", "no CPU limit",
         lambda o: container(o)["resources"]["limits"].__setitem__("cpu", "1")),
        ("no memory limit", "resources.limits.memory missing",
         lambda o: container(o)["resources"].pop("limits")),
        ("no preStop pause", "preStop must run",
         lambda o: container(o).pop("lifecycle")),
        ("grace shorter than pause + shutdown", "terminationGracePeriodSeconds 20 must be at least",
         lambda o: dep(o)["spec"]["template"]["spec"].__setitem__(
             "terminationGracePeriodSeconds", 20)),
        ("grace without time to spare", "terminationGracePeriodSeconds 27 must be at least the "
         "preStop pause 5s + --shutdown-grace 20s + 5s to spare",
         lambda o: dep(o)["spec"]["template"]["spec"].__setitem__(
             "terminationGracePeriodSeconds", 27)),
        ("preStop pause too short", "preStop pause 1s is shorter",
         lambda o: container(o)["lifecycle"]["preStop"]["exec"].__setitem__(
             "command", ["/usr/local/bin/mlnetpol", "pause", "--seconds", "1"])),
        ("no spread over zones", "by topology.kubernetes.io/zone",
         lambda o: dep(o)["spec"]["template"]["spec"]["topologySpreadConstraints"].pop(0)),
        ("no spread over nodes", "by kubernetes.io/hostname",
         lambda o: dep(o)["spec"]["template"]["spec"]["topologySpreadConstraints"].pop(1)),
        ("longer shutdown grace", "must be at least the preStop pause 5s + --shutdown-grace 60s",
         lambda o: container(o).__setitem__("args", [
             "--shutdown-grace=1m" if a.startswith("--shutdown-grace") else a
             for a in container(o)["args"]])),
        ("ordinary priority", "priorityClassName must be system-cluster-critical",
         lambda o: dep(o)["spec"]["template"]["spec"].pop("priorityClassName")),
        ("no quota for the priority class", "none admits the system-cluster-critical",
         lambda o: o.remove(find(o, "ResourceQuota")[0])),
        ("no PDB", "PodDisruptionBudget",
         lambda o: o.remove(find(o, "PodDisruptionBudget")[0])),
        ("schema type error", "schema: spec/replicas",
         lambda o: dep(o)["spec"].__setitem__("replicas", "two")),
        ("schema unknown field", "schema: spec/template/spec/containers/0",
         lambda o: container(o).__setitem__("imagePullPolicyy", "Always")),
        ("schema unknown webhook field", "schema: webhooks/0",
         lambda o: webhook(o, vw, 0).__setitem__("failurPolicy", "Fail")),
        ("key read elsewhere", "--tls-key-file must be",
         lambda o: container(o)["args"].append("--tls-key-file=/etc/tls.key"), "external"),
        ("secret not mounted", "must be mounted (whole) at /tmp/k8s-webhook-server",
         lambda o: [m.__setitem__("mountPath", "/certs") for m in container(o)["volumeMounts"]
                    if m["name"] == "serving-certs"], "external"),
        ("webhook RBAC for every configuration", "ClusterRole mlnetpol: rules must be exactly",
         lambda o: find(o, "ClusterRole", NAME)[0]["rules"][3].pop("resourceNames")),
        ("Secret RBAC for every Secret", "Role: exactly",
         lambda o: find(o, "Role", "mlnetpol-certificates")[0]["rules"][1].pop("resourceNames")),
        ("Secrets cluster-wide", "no '*' and no Secrets",
         lambda o: find(o, "ClusterRole", NAME)[0]["rules"].append(
             {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})),
        ("wide RBAC", "ClusterRole mlnetpol: rules must be exactly",
         lambda o: find(o, "ClusterRole", NAME)[0]["rules"].append(
             {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})),
        ("RBAC grants get it never calls", "ClusterRole mlnetpol: rules must be exactly",
         lambda o: find(o, "ClusterRole", NAME)[0]["rules"][1]["verbs"].append("get")),
        ("lease RBAC missing update", "Role: exactly",
         lambda o: find(o, "Role")[0]["rules"][0].__setitem__("verbs", ["get", "create"])),
        ("lease Role elsewhere", "Role: exactly",
         lambda o: find(o, "Role")[0]["metadata"].__setitem__("namespace", "default")),
        ("no NetworkPolicy for mlnetpol-system", "NetworkPolicy/mlnetpol: exactly one",
         lambda o: o.remove(find(o, "NetworkPolicy", NAME)[0])),
        ("webhook port open to pods though api_server_cidrs is set",
         "open to exactly api_server_cidrs ['10.0.0.0/24']",
         lambda o: find(o, "ConfigMap", CONFIGMAP)[0]["data"].__setitem__(
             "config.yaml", find(o, "ConfigMap", CONFIGMAP)[0]["data"]["config.yaml"] +
             "\napi_server_cidrs: [10.0.0.0/24]\n")),
        ("metrics port open to every namespace", "must be open to the monitoring namespace",
         lambda o: find(o, "NetworkPolicy", NAME)[0]["spec"]["ingress"][1].pop("from")),
        ("a rule for every port", "opens every port",
         lambda o: find(o, "NetworkPolicy", NAME)[0]["spec"]["ingress"].append({})),
        ("Cilium webhook port open to every entity", "fromEntities [kube-apiserver] only",
         lambda o: find(o, "CiliumNetworkPolicy", NAME)[0]["spec"]["ingress"][0].__setitem__(
             "fromEntities", ["all"]), "cilium"),
        ("Cilium with the base NetworkPolicy left in", "a second kind of policy",
         lambda o: o.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                             "metadata": {"name": "open", "namespace": NAMESPACE},
                             "spec": {"podSelector": {}, "ingress": [{}]}}), "cilium"),
        ("CiliumNetworkPolicy against its schema", "CiliumNetworkPolicy/mlnetpol: schema",
         lambda o: find(o, "CiliumNetworkPolicy", NAME)[0]["spec"]["ingress"][0].__setitem__(
             "fromEntity", ["kube-apiserver"]), "cilium"),
        ("no POD_NAME", "needs env POD_NAME",
         lambda o: container(o).__setitem__(
             "env", [e for e in container(o).get("env") or [] if e["name"] != "POD_NAME"])),
        ("unknown config key", "unknown keys ['cilium_mod']",
         lambda o: find(o, "ConfigMap", CONFIGMAP)[0]["data"].__setitem__(
             "config.yaml", "cilium_mod: true\n")),
        ("config the loader rejects", "mlnetpol rejects config.yaml",
         lambda o: find(o, "ConfigMap", CONFIGMAP)[0]["data"].__setitem__(
             "config.yaml", "enabled: true\nml_training_namespaces: [Not_A_Namespace]\n")),
        ("cert-manager object without issuer", "issuerRef needs a name",
         lambda o: o.append({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                             "metadata": {"name": "x", "namespace": NAMESPACE},
                             "spec": {"secretName": "x", "dnsNames": ["x"],
                                      "privateKey": {"algorithm": "ECDSA", "size": 256}}})),
    ]


def self_test(rendered, schemas, ca_pem, base_config, keys, binary):
    failures = []
    for overlay in ("standard", "external"):
        baseline = check_overlay(rendered[overlay], overlay, schemas, ca_pem, base_config, keys,
                                 binary)
        failures += [f"self-test baseline {overlay} is not clean: {e}" for e in baseline]
    if failures:
        return failures
    for what, fragment, brk, *where in breakages():
        overlay = where[0] if where else "standard"
        broken = copy.deepcopy(rendered[overlay])
        brk(broken)
        found = check_overlay(broken, overlay, schemas, ca_pem, base_config, keys, binary)
        if not any(fragment in e for e in found):
            failures.append(f"self-test '{what}': no error containing '{fragment}' "
                            f"(got {found})")
    return failures


# ----------------------------------------------------------------------------- main

def render(kubectl, path):
    proc = subprocess.run([kubectl, "kustomize", path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"kubectl kustomize {path} failed:\n{proc.stderr}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--schemas", required=True, help="tests/schemas")
    ap.add_argument("--kubectl", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()

    if not args.kubectl:
        print("SKIPPED: kubectl is not installed, so the overlays cannot be rendered")
        return SKIPPED
    if not os.access(args.kubectl, os.X_OK):
        raise SystemExit(f"kubectl not found at {args.kubectl}")
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"mlnetpol binary not found at {args.binary}: build it first")
    schemas = Schemas(os.path.join(args.schemas, "kubernetes-v1.28"))
    with open(os.path.join(args.source, "tests", "policy", "golden", "policy_report.json")) as fh:
        POLICY_REPORT_EXAMPLE.update(json.load(fh))
    keys = config_keys(args.source)
    with open(os.path.join(args.source, "manifests", "base", "config.yaml")) as fh:
        base_config = yaml.safe_load(fh)

    with tempfile.TemporaryDirectory(prefix="mlnetpol-manifests-") as tmp:
        # A copy, so the certificates the install steps write never touch the source tree.
        manifests = os.path.join(tmp, "manifests")
        shutil.copytree(os.path.join(args.source, "manifests"), manifests,
                        ignore=shutil.ignore_patterns("*.crt", "*.key"))
        # Self-managed overlays render as a GitOps tool sees the repository: no certificate step.
        rendered = {o: render(args.kubectl, os.path.join(manifests, "overlays", o))
                    for o in OVERLAYS if o in SELF_MANAGED}
        certs = os.path.join(manifests, "certs")
        proc = subprocess.run([args.binary, "certs", "--service", NAME, "--namespace", NAMESPACE,
                               "--out", certs], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"mlnetpol certs failed: {proc.stderr}")
        with open(os.path.join(certs, "ca.crt"), "rb") as fh:
            ca_pem = fh.read()

        errors = check_base_config_is_default(args.source, args.binary)
        errors += check_admission_policy_names(args.binary)
        errors += check_clusterwide_policy_name(args.binary)
        for overlay in OVERLAYS:
            if overlay not in rendered:
                rendered[overlay] = render(args.kubectl, os.path.join(manifests, "overlays", overlay))
            objs = rendered[overlay]
            found = check_overlay(objs, overlay, schemas, ca_pem, base_config, keys, args.binary)
            errors += [f"[{overlay}] {e}" for e in found]
            print(f"{overlay}: {len(objs)} objects, {len(found)} problems")
        if args.self_test:
            found = self_test(rendered, schemas, ca_pem, base_config, keys, args.binary)
            errors += found
            print(f"self-test: {len(breakages())} deliberate breakages, "
                  f"{len(found)} not caught")
    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
