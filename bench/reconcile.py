#!/usr/bin/env python3
"""Reconciler benchmark against the real kube-apiserver v1.28.7 (`make bench-reconcile`).

Starts kapi (MLNETPOL_KAPI, else ../shared/tools/kube-apiserver/kapi) on free ports, installs the
project's RBAC and webhooks, runs `mlnetpol serve` with a bound service-account token, and measures:
  1. time from creating a secured namespace to the last policy of its set stored, p50/p99 over N
     namespaces (target p99 < 300 ms);
  2. a full pass (configuration reload = resync) over M secured namespaces when nothing changed:
     API requests by verb and time (target: list calls only, zero writes);
  3. the process's RSS with those namespaces cached.
Builds nothing: run `make build` first. Usage: bench/reconcile.py [--latency 50] [--namespaces 1000]
"""
import argparse
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    """Admin access (client certificate) with one keep-alive connection per call site."""

    def __init__(self, url, pki):
        self.url = url
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            return json.loads(r.read())


def kubectl(env, *args, stdin=None):
    r = subprocess.run(["kubectl", *args], env=env, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def webhooks(port, ca_b64):
    out, lines = [], open(os.path.join(ROOT, "manifests/base/webhooks.yaml")).read().splitlines()
    i = 0
    while i < len(lines):
        if lines[i] == "    service:":
            path = next(l.split("path: ")[1] for l in lines[i + 1:i + 5] if "path: " in l)
            out += [f"    url: https://127.0.0.1:{port}{path}", f"    caBundle: {ca_b64}"]
            i += 5
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out) + "\n"


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def series(text, name):
    """{labels-text: value} of one metric family."""
    out = {}
    for line in text.splitlines():
        m = re.match(re.escape(name) + r"(\{[^}]*\})? (\S+)$", line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=int, default=50, help="namespaces timed one by one")
    ap.add_argument("--namespaces", type=int, default=1000, help="namespaces in the resync pass")
    ap.add_argument("--binary", default=os.environ.get("MLNETPOL", os.path.join(ROOT, "build/mlnetpol")))
    args = ap.parse_args()
    kapi = os.environ.get("MLNETPOL_KAPI") or os.path.join(ROOT, "../shared/tools/kube-apiserver/kapi")
    if not os.path.isfile(kapi):
        raise SystemExit("bench-reconcile: no kapi script (set MLNETPOL_KAPI)")
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"bench-reconcile: {args.binary} not built; run 'make build' first")

    work = tempfile.mkdtemp(prefix="mlnetpol-bench-")
    port, etcd = free_port(), free_port()
    while etcd + 2 > 65535 or port in (etcd, etcd + 1, etcd + 2):
        etcd = free_port()
    out = subprocess.run([kapi, "start", "--dir", work, "--port", str(port), "--etcd-port", str(etcd)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"kapi start failed: {out.stderr}")
    env = dict(os.environ, KUBECONFIG=os.path.join(work, "admin.kubeconfig"))
    serve = None
    try:
        api = Api(f"https://127.0.0.1:{port}", os.path.join(work, "pki"))
        certs = os.path.join(work, "certs")
        subprocess.run([args.binary, "certs", "--dev", "--out", certs], check=True,
                       capture_output=True)
        kubectl(env, "create", "namespace", "mlnetpol-system")
        kubectl(env, "-n", "mlnetpol-system", "create", "serviceaccount", "mlnetpol")
        kubectl(env, "apply", "-f", os.path.join(ROOT, "manifests/base/rbac.yaml"))
        token = kubectl(env, "-n", "mlnetpol-system", "create", "token", "mlnetpol",
                        "--duration=2h").strip()
        sa_kubeconfig = os.path.join(work, "sa.kubeconfig")
        with open(sa_kubeconfig, "w") as f:
            f.write(f"apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n"
                    f"    server: https://127.0.0.1:{port}\n"
                    f"    certificate-authority: {work}/pki/ca.crt\nusers:\n- name: sa\n  user:\n"
                    f"    token: {token}\ncontexts:\n- name: sa\n  context: {{cluster: k, user: sa}}\n"
                    f"current-context: sa\n")
        lat = [f"lat-{i}" for i in range(args.latency)]
        many = [f"rs-{i}" for i in range(args.namespaces)]
        config = os.path.join(work, "config.yaml")
        config_text = ("platform_namespaces: []\nml_training_namespaces: []\n"
                       "ml_inference_namespaces: []\nenforcement_mode: enforce\n"
                       f"tenant_namespaces: [{', '.join(lat + many)}]\n")
        with open(config, "w") as f:
            f.write(config_text)
        # The resync set exists before mlnetpol starts (enrolled at start-up).
        kubectl(env, "apply", "-f", "-", stdin="".join(
            f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {n}}}\n" for n in many))

        wport, mport = free_port(), free_port()
        log = open(os.path.join(work, "serve.log"), "w")
        serve = subprocess.Popen(
            [args.binary, "serve", "--port", str(wport), "--bind-address", "127.0.0.1",
             "--metrics-bind-address", f"127.0.0.1:{mport}",
             "--tls-cert-file", f"{certs}/tls.crt", "--tls-key-file", f"{certs}/tls.key",
             "--config", config, "--log-format", "json", "--log-level", "warn",
             "--kubeconfig", sa_kubeconfig, "--resync-period", "1h"],
            stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, POD_NAME="bench", POD_NAMESPACE="mlnetpol-system"))
        ca_b64 = subprocess.run(["base64", "-w0", f"{certs}/ca.crt"], capture_output=True,
                                text=True).stdout
        kubectl(env, "apply", "-f", "-", stdin=webhooks(wport, ca_b64))

        per_ns = len(json.loads(subprocess.run(
            [args.binary, "render", "--config", config, "--namespace", many[0], "-o", "json"],
            capture_output=True, text=True, check=True).stdout)["items"])
        managed = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmlnetpol"

        # Start-up enrolment of the resync set.
        t0 = time.monotonic()
        want = per_ns * len(many)
        while True:
            have = len(api.call("GET", f"/apis/networking.k8s.io/v1/networkpolicies?{managed}")["items"])
            if have >= want:
                break
            if time.monotonic() - t0 > 600:
                raise SystemExit(f"enrolment stuck at {have}/{want} policies")
            time.sleep(0.5)
        enrol = time.monotonic() - t0
        print(f"start-up enrolment: {len(many)} namespaces, {want} policies in {enrol:.1f} s")

        # The start-up wave settles (no reconcile for 2 s) before anything is timed.
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 2:
            now = sum(series(metrics(mport), "mlnetpol_reconcile_total").values())
            if now != last:
                last, quiet_since = now, time.monotonic()
            time.sleep(0.2)

        # 1. create -> last policy stored.
        latencies = []
        for n in lat:
            t0 = time.monotonic()
            api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": n}})
            while len(api.call("GET", f"/apis/networking.k8s.io/v1/namespaces/{n}/networkpolicies"
                                      f"?{managed}")["items"]) < per_ns:
                if time.monotonic() - t0 > 30:
                    raise SystemExit(f"{n}: no full set after 30 s")
                time.sleep(0.002)
            latencies.append((time.monotonic() - t0) * 1000)
        print(f"create ns -> last of {per_ns} policies stored, {len(lat)} namespaces: "
              f"p50 {percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
              f"max {max(latencies):.0f} ms")

        # 2. a full pass when nothing changed (a reload of an equivalent file queues everything,
        # exactly like the periodic resync).
        time.sleep(2)
        before = metrics(mport)
        req0 = series(before, "mlnetpol_apiserver_requests_total")
        rec0 = sum(series(before, "mlnetpol_reconcile_total").values())
        with open(config, "w") as f:
            f.write(config_text + "# touched\n")
        t0 = time.monotonic()
        serve.send_signal(signal.SIGHUP)
        expected = len(lat) + len(many)
        while True:
            text = metrics(mport)
            done = sum(series(text, "mlnetpol_reconcile_total").values()) - rec0
            if done >= expected:
                break
            if time.monotonic() - t0 > 600:
                raise SystemExit(f"resync stuck at {done}/{expected}")
            time.sleep(0.05)
        took = time.monotonic() - t0
        req1 = series(text, "mlnetpol_apiserver_requests_total")
        delta = {k: int(v - req0.get(k, 0)) for k, v in req1.items() if v - req0.get(k, 0) > 0}
        writes = sum(v for k, v in delta.items() if re.search(r'verb="(apply|patch|delete|create)"', k))
        print(f"full pass over {expected} secured namespaces, nothing changed: {took:.2f} s, "
              f"requests {delta or '{}'} (get/update: lease renewals), writes {writes}")

        # 3. RSS with every namespace cached.
        rss = next(l for l in open(f"/proc/{serve.pid}/status") if l.startswith("VmRSS"))
        total = len(api.call("GET", "/api/v1/namespaces")["items"])
        print(f"RSS with {total} namespaces cached: {rss.split(':')[1].strip()}")
    finally:
        if serve:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
        subprocess.run([kapi, "stop", "--dir", work], capture_output=True)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
