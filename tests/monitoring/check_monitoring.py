#!/usr/bin/env python3
"""Checks manifests/components/monitoring: the PrometheusRule's rules (`promtool check rules`), its
alerts (`promtool test rules` with alerts_test.yaml: every alert must fire in some test), that rules
and dashboard use only metrics mlnetpol exports, and that the component wires up with the base
(ServiceMonitor -> metrics Service -> webhook pods). --self-test breaks a rule's threshold and an
alert's duration on purpose and fails unless promtool's unit tests catch it.

Usage: check_monitoring.py --source DIR --promtool PATH --kubectl PATH [--self-test]
Exit 77 (skipped) when promtool is absent (Debian: apt-get install prometheus).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pathlib

import yaml

SKIPPED = 77
COMPONENT = os.path.join("manifests", "components", "monitoring")
# The folders whose code registers metric families (server, serve's own, controller).
METRIC_SOURCES = ("server", "app", "controller", "common")
# Prometheus' own series the dashboard may use.
PROMETHEUS_METRICS = {"up"}
METRIC = re.compile(r"\b(mlnetpol_[a-z0-9_]+|up)\b")


def exported_metrics(source):
    names = set()
    for folder in METRIC_SOURCES:
        for path in sorted(pathlib.Path(source, folder).rglob("*.cpp")):
            names |= set(re.findall(r'"(mlnetpol_[a-z0-9_]+)', path.read_text()))
    return names | PROMETHEUS_METRICS


def base_name(series):
    for suffix in ("_bucket", "_sum", "_count"):
        if series.endswith(suffix) and series[: -len(suffix)].endswith("_seconds"):
            return series[: -len(suffix)]
    return series


def unknown_metrics(exprs, known):
    return sorted({m for e in exprs for m in METRIC.findall(e) if base_name(m) not in known})


def promtool(promtool_path, *args):
    return subprocess.run([promtool_path, *args], capture_output=True, text=True)


def run_rule_tests(promtool_path, spec, tests_text, tmp):
    with open(os.path.join(tmp, "rules.yaml"), "w") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    with open(os.path.join(tmp, "alerts_test.yaml"), "w") as f:
        f.write(tests_text)
    check = promtool(promtool_path, "check", "rules", os.path.join(tmp, "rules.yaml"))
    test = promtool(promtool_path, "test", "rules", os.path.join(tmp, "alerts_test.yaml"))
    return check, test


def check_wiring(kubectl, source, tmp):
    """Renders base + component and follows ServiceMonitor -> Service -> pods."""
    errors = []
    tree = os.path.join(tmp, "tree")
    shutil.copytree(os.path.join(source, "manifests"), os.path.join(tree, "manifests"))
    overlay = os.path.join(tree, "manifests", "overlays", "monitoring-check")
    os.makedirs(overlay)
    with open(os.path.join(overlay, "kustomization.yaml"), "w") as f:
        f.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                "resources: [../../base]\ncomponents: [../../components/monitoring]\n")
    proc = subprocess.run([kubectl, "kustomize", overlay], capture_output=True, text=True)
    if proc.returncode != 0:
        return [f"kubectl kustomize base + monitoring failed: {proc.stderr.strip()}"]
    objs = [o for o in yaml.safe_load_all(proc.stdout) if o]
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    sm = (by_kind.get("ServiceMonitor") or [None])[0]
    dep = (by_kind.get("Deployment") or [None])[0]
    if not sm or not dep:
        return ["base + monitoring must render a ServiceMonitor and the Deployment"]
    want = sm["spec"]["selector"]["matchLabels"]
    services = [s for s in by_kind.get("Service", [])
                if want.items() <= (s["metadata"].get("labels") or {}).items()]
    if len(services) != 1:
        return [f"ServiceMonitor selects {len(services)} Services, expected the metrics Service"]
    svc = services[0]
    port_names = {p.get("name") for p in svc["spec"]["ports"]}
    for ep in sm["spec"]["endpoints"]:
        if ep.get("port") not in port_names:
            errors.append(f"ServiceMonitor endpoint port {ep.get('port')} is not a port of "
                          f"Service {svc['metadata']['name']} ({port_names})")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    if not svc["spec"]["selector"].items() <= pod_labels.items():
        errors.append("the metrics Service does not select the webhook pods")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    target = svc["spec"]["ports"][0]["targetPort"]
    if named.get(target) != 8080:
        errors.append(f"the metrics Service targets {target}, not the container's 8080 port")
    if sm["spec"].get("jobLabel") and sm["spec"]["jobLabel"] not in svc["metadata"]["labels"]:
        errors.append("ServiceMonitor jobLabel is not a label of the metrics Service")
    elif svc["metadata"]["labels"].get(sm["spec"].get("jobLabel", "")) != "mlnetpol":
        errors.append('the rules select job="mlnetpol": the jobLabel must yield it')
    dashboards = [c for c in by_kind.get("ConfigMap", [])
                  if (c["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
    if len(dashboards) != 1:
        errors.append("expected one ConfigMap labelled grafana_dashboard=1")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--promtool", default="")
    ap.add_argument("--kubectl", default="")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if not args.promtool or not os.access(args.promtool, os.X_OK):
        print("SKIPPED: promtool is not installed (Debian package prometheus)")
        return SKIPPED

    component = os.path.join(args.source, COMPONENT)
    with open(os.path.join(component, "prometheusrule.yaml")) as f:
        rule = yaml.safe_load(f)
    with open(os.path.join(args.source, "tests", "monitoring", "alerts_test.yaml")) as f:
        tests_text = f.read()
    with open(os.path.join(component, "dashboard.json")) as f:
        dashboard = json.load(f)
    spec = rule["spec"]
    failures = []
    known = exported_metrics(args.source)

    alerts = [r["alert"] for g in spec["groups"] for r in g["rules"] if "alert" in r]
    rule_exprs = [r["expr"] for g in spec["groups"] for r in g["rules"]]
    for name in unknown_metrics(rule_exprs, known):
        failures.append(f"PrometheusRule uses {name}, which mlnetpol does not export")
    panel_exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    if not panel_exprs:
        failures.append("the dashboard has no queries")
    for name in unknown_metrics(panel_exprs, known):
        failures.append(f"the dashboard uses {name}, which mlnetpol does not export")
    if "mlnetpol_policy_count" in known:
        failures.append("mlnetpol_policy_count breaks promtool's _count rule: it is mlnetpol_policies")

    tests = yaml.safe_load(tests_text)
    fired = {a["alertname"] for t in tests["tests"] for a in t.get("alert_rule_test", [])
             if a.get("exp_alerts")}
    quiet = {a["alertname"] for t in tests["tests"] for a in t.get("alert_rule_test", [])
             if not a.get("exp_alerts")}
    for name in alerts:
        if name not in fired:
            failures.append(f"alert {name}: no unit test makes it fire")
        if name not in quiet:
            failures.append(f"alert {name}: no unit test checks it stays quiet")

    with tempfile.TemporaryDirectory(prefix="mlnetpol-monitoring-") as tmp:
        check, test = run_rule_tests(args.promtool, spec, tests_text, tmp)
        if check.returncode != 0:
            failures.append(f"promtool check rules failed:\n{check.stdout}{check.stderr}")
        if test.returncode != 0:
            failures.append(f"promtool test rules failed:\n{test.stdout}{test.stderr}")
        if args.kubectl and os.access(args.kubectl, os.X_OK):
            failures += check_wiring(args.kubectl, args.source, tmp)
        else:
            print("note: kubectl absent, the component's wiring was not rendered")

        if args.self_test:
            # Each break must make promtool's unit tests fail, or they test nothing.
            breaks = [("error threshold 50%", "> 0.01", "> 0.5"),
                      ("latency threshold 1s", ") > 0.25", ") > 1"),
                      ("certificate window 1 day", "< 14 * 86400", "< 1 * 86400"),
                      ("reconcile alert waits 1h", "for: 15m", "for: 1h"),
                      ("leader alert never fires", "mlnetpol_leader{job=\"mlnetpol\"}) < 1",
                       "mlnetpol_leader{job=\"mlnetpol\"}) < 0")]
            text = yaml.safe_dump(spec, sort_keys=False)
            for what, old, new in breaks:
                if old not in text:
                    failures.append(f"self-test '{what}': '{old}' not found in the rules")
                    continue
                broken = yaml.safe_load(text.replace(old, new, 1))
                sub = os.path.join(tmp, "self-test")
                os.makedirs(sub, exist_ok=True)
                _, t = run_rule_tests(args.promtool, broken, tests_text, sub)
                if t.returncode == 0:
                    failures.append(f"self-test '{what}': promtool test rules still passes")

    for f in failures:
        print(f"FAIL: {f}")
    if failures:
        return 1
    print(f"ok: {len(alerts)} alerts tested, {len(panel_exprs)} dashboard queries checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
