#!/usr/bin/env python3
"""Reconciler benchmark against the real kube-apiserver v1.28.7 (`make bench-reconcile`).

Starts kapi (MLNETPOL_KAPI, else ../shared/tools/kube-apiserver/kapi) on free ports, installs the
project's RBAC and webhooks, runs `mlnetpol serve` with a bound service-account token and a
configuration securing N tenant namespaces that exist before it starts, and measures the targets of
issue 21 (bench/README.md):
  1. start -> every set stored, N secured namespaces (target < 60 s at 10,000);
  2. a pass (a reload of an equivalent file = a resync) when nothing changed: mlnetpol's CPU
     seconds, API requests by verb, writes (target < 2 CPU-s, 0 writes, a few paged lists);
  3. --burst namespaces created at once: create -> set stored, p50/p99 (target p99 < 2 s);
  4. the process's RSS with every namespace cached (target < 128 MiB);
  5. kube-apiserver killed, --down seconds down, started again: ready -> a policy deleted right
     then is back (target < 5 s), and the list calls the recovery made;
  6. (--latency K) K namespaces created one after another: create -> set stored.
Builds nothing: run `make build` first.
Usage: bench/reconcile.py [--namespaces 10000] [--burst 500] [--down 30] [--latency 0]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANAGED = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmlnetpol"
NP = "/apis/networking.k8s.io/v1"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    """Admin access (client certificate); one connection per thread."""

    def __init__(self, port, pki):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.local = threading.local()

    def conn(self):
        if getattr(self.local, "c", None) is None:
            self.local.c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                       timeout=60)
        return self.local.c

    def call(self, method, path, body=None, ok=(200, 201)):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            try:
                c = self.conn()
                c.request(method, path, body=data, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                text = r.read()
                if r.status not in ok:
                    raise RuntimeError(f"{method} {path}: {r.status} {text[:300]!r}")
                try:
                    return r.status, json.loads(text) if text else None
                except ValueError:
                    return r.status, text  # /readyz answers "ok"
            except (ConnectionError, http.client.HTTPException, OSError):
                self.local.c = None
                if attempt == 1:
                    raise

    def create_namespace(self, name):
        self.call("POST", "/api/v1/namespaces",
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


class PolicyWatch:
    """Watches managed NetworkPolicies cluster-wide and records, per namespace, when it first held
    `per_ns` of them (the set stored)."""

    def __init__(self, api, per_ns):
        self.api, self.per_ns = api, per_ns
        self.held, self.stored = {}, {}
        self.lock = threading.Lock()
        _, listed = api.call("GET", f"{NP}/networkpolicies?{MANAGED}&limit=1")
        self.rv = listed["metadata"]["resourceVersion"]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        c = http.client.HTTPSConnection("127.0.0.1", self.api.port, context=self.api.ctx,
                                        timeout=3600)
        c.request("GET", f"{NP}/networkpolicies?watch=1&{MANAGED}&resourceVersion={self.rv}"
                         "&timeoutSeconds=3600")
        r = c.getresponse()
        try:
            for line in r:
                e = json.loads(line)
                md = e["object"]["metadata"]
                ns, name = md.get("namespace", ""), md.get("name", "")
                now = time.monotonic()
                with self.lock:
                    names = self.held.setdefault(ns, set())
                    if e["type"] == "DELETED":
                        names.discard(name)
                    elif e["type"] in ("ADDED", "MODIFIED"):
                        names.add(name)
                        if len(names) >= self.per_ns and ns not in self.stored:
                            self.stored[ns] = now
        except (OSError, http.client.HTTPException, ValueError):
            pass  # the API server went away (the restart measurement)

    def stored_at(self, names):
        with self.lock:
            return {n: self.stored[n] for n in names if n in self.stored}


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
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        return r.read().decode()


def series(text, name):
    """{labels-text: value} of one metric family."""
    out = {}
    for line in text.splitlines():
        m = re.match(re.escape(name) + r"(\{[^}]*\})? (\S+)$", line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def requests_delta(before, after):
    a = series(after, "mlnetpol_apiserver_requests_total")
    b = series(before, "mlnetpol_apiserver_requests_total")
    return {k: int(v - b.get(k, 0)) for k, v in a.items() if v - b.get(k, 0) > 0}


def count(delta, verb, code=None):
    return sum(v for k, v in delta.items()
               if f'verb="{verb}"' in k and (code is None or f'code="{code}' in k))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(work):
    """CPU seconds used so far by kube-apiserver and etcd (the floor a write costs the cluster)."""
    return sum(cpu_seconds(open(os.path.join(work, f"{name}.pid")).read().strip())
               for name in ("apiserver", "etcd"))


def rss_mib(pid):
    line = next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def wait_settled(mport, quiet=2.0):
    """Until no reconcile happened for `quiet` seconds."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < quiet:
        now = sum(series(metrics(mport), "mlnetpol_reconcile_total").values())
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.2)


def report(rows):
    print("\n| what | result | target |\n| --- | --- | --- |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


def start_kapi(kapi, prefix):
    """kapi on free ports in a new folder: (folder, API port, env with the admin KUBECONFIG)."""
    work = tempfile.mkdtemp(prefix=prefix)
    port, etcd = free_port(), free_port()
    while etcd + 2 > 65535 or port in (etcd, etcd + 1, etcd + 2):
        etcd = free_port()
    out = subprocess.run([kapi, "start", "--dir", work, "--port", str(port), "--etcd-port", str(etcd)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"kapi start failed: {out.stderr}")
    return work, port, dict(os.environ, KUBECONFIG=os.path.join(work, "admin.kubeconfig"))


def install_mlnetpol(binary, env, work, port):
    """Dev serving certificates, mlnetpol's namespace, ServiceAccount and RBAC, and a kubeconfig
    with a bound token of it: (certificate folder, kubeconfig path)."""
    certs = os.path.join(work, "certs")
    subprocess.run([binary, "certs", "--dev", "--out", certs], check=True, capture_output=True)
    kubectl(env, "create", "namespace", "mlnetpol-system")
    kubectl(env, "-n", "mlnetpol-system", "create", "serviceaccount", "mlnetpol")
    kubectl(env, "apply", "-f", os.path.join(ROOT, "manifests/base/rbac.yaml"))
    token = kubectl(env, "-n", "mlnetpol-system", "create", "token", "mlnetpol",
                    "--duration=4h").strip()
    sa_kubeconfig = os.path.join(work, "sa.kubeconfig")
    with open(sa_kubeconfig, "w") as f:
        f.write(f"apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n"
                f"    server: https://127.0.0.1:{port}\n"
                f"    certificate-authority: {work}/pki/ca.crt\nusers:\n- name: sa\n  user:\n"
                f"    token: {token}\ncontexts:\n- name: sa\n  context: {{cluster: k, user: sa}}\n"
                f"current-context: sa\n")
    return certs, sa_kubeconfig


def start_serve(binary, env, work, certs, config, sa_kubeconfig):
    """`mlnetpol serve` (one replica, its log in work/serve.log) with the webhooks pointing at it:
    (process, webhook port, metrics port)."""
    wport, mport = free_port(), free_port()
    log = open(os.path.join(work, "serve.log"), "w")
    serve = subprocess.Popen(
        [binary, "serve", "--port", str(wport), "--bind-address", "127.0.0.1",
         "--metrics-bind-address", f"127.0.0.1:{mport}",
         "--tls-cert-file", f"{certs}/tls.crt", "--tls-key-file", f"{certs}/tls.key",
         "--config", config, "--log-format", "json", "--log-level", "warn",
         "--kubeconfig", sa_kubeconfig, "--resync-period", "1h"],
        stdout=log, stderr=subprocess.STDOUT,
        env=dict(os.environ, POD_NAME="bench", POD_NAMESPACE="mlnetpol-system"))
    ca_b64 = subprocess.run(["base64", "-w0", f"{certs}/ca.crt"], capture_output=True,
                            text=True).stdout
    kubectl(env, "apply", "-f", "-", stdin=webhooks(wport, ca_b64))
    return serve, wport, mport


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--namespaces", type=int, default=10000, help="secured namespaces at start")
    ap.add_argument("--burst", type=int, default=500, help="namespaces created at once")
    ap.add_argument("--down", type=int, default=30, help="seconds the API server stays down")
    ap.add_argument("--latency", type=int, default=0, help="namespaces created one by one")
    ap.add_argument("--binary", default=os.environ.get("MLNETPOL", os.path.join(ROOT, "build/mlnetpol")))
    args = ap.parse_args()
    kapi = os.environ.get("MLNETPOL_KAPI") or os.path.join(ROOT, "../shared/tools/kube-apiserver/kapi")
    if not os.path.isfile(kapi):
        raise SystemExit("bench-reconcile: no kapi script (set MLNETPOL_KAPI)")
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"bench-reconcile: {args.binary} not built; run 'make build' first")
    print(f"load average at start: {os.getloadavg()}", flush=True)

    work, port, env = start_kapi(kapi, "mlnetpol-bench-")
    serve = None
    rows = []
    try:
        api = Api(port, os.path.join(work, "pki"))
        certs, sa_kubeconfig = install_mlnetpol(args.binary, env, work, port)
        many = [f"rs-{i}" for i in range(args.namespaces)]
        burst = [f"burst-{i}" for i in range(args.burst)]
        lat = [f"lat-{i}" for i in range(args.latency)]
        config = os.path.join(work, "config.yaml")
        config_text = ("platform_namespaces: []\nml_training_namespaces: []\n"
                       "ml_inference_namespaces: []\nenforcement_mode: enforce\n"
                       f"tenant_namespaces: [{', '.join(many + burst + lat)}]\n")
        with open(config, "w") as f:
            f.write(config_text)
        per_ns = len(json.loads(subprocess.run(
            [args.binary, "render", "--config", config, "--namespace", many[0], "-o", "json"],
            capture_output=True, text=True, check=True).stdout)["items"])

        # The secured namespaces exist before mlnetpol starts (enrolled at start-up).
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(api.create_namespace, many))
        print(f"created {len(many)} namespaces in {time.monotonic() - t0:.1f} s", flush=True)
        watch = PolicyWatch(api, per_ns)

        # 1. start -> every set stored.
        started = time.monotonic()
        server0 = server_cpu(work)
        serve, wport, mport = start_serve(args.binary, env, work, certs, config, sa_kubeconfig)
        while True:
            done = watch.stored_at(many)
            if len(done) == len(many):
                break
            if time.monotonic() - started > 900:
                raise SystemExit(f"enrolment stuck at {len(done)}/{len(many)} sets")
            time.sleep(0.5)
        enrol = max(done.values()) - started
        cpu_enrol = cpu_seconds(serve.pid)
        server_enrol = server_cpu(work) - server0
        print(f"start -> every set stored: {len(many)} namespaces, {per_ns * len(many)} policies "
              f"in {enrol:.1f} s ({cpu_enrol:.1f} CPU-s of mlnetpol, {server_enrol:.1f} CPU-s of "
              f"kube-apiserver and etcd)", flush=True)
        rows.append((f"{len(many)} secured namespaces: start -> every set stored",
                     f"{enrol:.1f} s ({cpu_enrol:.1f} CPU-s of mlnetpol, {server_enrol:.1f} of "
                     f"kube-apiserver + etcd)", "< 60 s at 10,000"))
        wait_settled(mport)

        # 2. a pass when nothing changed (a reload of an equivalent file queues everything,
        # exactly like the periodic resync).
        before = metrics(mport)
        rec0 = sum(series(before, "mlnetpol_reconcile_total").values())
        cpu0 = cpu_seconds(serve.pid)
        with open(config, "w") as f:
            f.write(config_text + "# touched\n")
        t0 = time.monotonic()
        serve.send_signal(signal.SIGHUP)
        expected = len(many)
        while True:
            text = metrics(mport)
            done = sum(series(text, "mlnetpol_reconcile_total").values()) - rec0
            if done >= expected:
                break
            if time.monotonic() - t0 > 600:
                raise SystemExit(f"resync stuck at {done}/{expected}")
            time.sleep(0.05)
        took = time.monotonic() - t0
        cpu = cpu_seconds(serve.pid) - cpu0
        delta = requests_delta(before, text)
        writes = sum(count(delta, v) for v in ("apply", "patch", "delete", "create"))
        lists = count(delta, "list")
        print(f"no-change pass over {expected} namespaces: {took:.2f} s, {cpu:.2f} CPU-s, "
              f"requests {delta}, writes {writes}", flush=True)
        rows.append((f"no-change pass over {expected} namespaces",
                     f"{cpu:.2f} CPU-s ({took:.1f} s wall), {writes} writes, {lists} list calls "
                     f"(pages of 500)", "< 2 CPU-s, 0 writes, a few paged lists"))

        # 3. a burst of new namespaces at once.
        wait_settled(mport)
        created = {}

        def create(name):
            api.create_namespace(name)
            created[name] = time.monotonic()

        t0 = time.monotonic()
        cpu0, server0 = cpu_seconds(serve.pid), server_cpu(work)
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(create, burst))
        while len(watch.stored_at(burst)) < len(burst):
            if time.monotonic() - t0 > 300:
                raise SystemExit(f"burst stuck at {len(watch.stored_at(burst))}/{len(burst)}")
            time.sleep(0.1)
        stored = watch.stored_at(burst)
        cpu, server = cpu_seconds(serve.pid) - cpu0, server_cpu(work) - server0
        waits = [stored[n] - created[n] for n in burst]
        print(f"{len(burst)} namespaces created at once (in {max(created.values()) - t0:.1f} s): "
              f"create -> set stored p50 {percentile(waits, 50):.2f} s, p99 "
              f"{percentile(waits, 99):.2f} s, max {max(waits):.2f} s; {cpu:.1f} CPU-s of mlnetpol, "
              f"{server:.1f} of kube-apiserver + etcd", flush=True)
        rows.append((f"{len(burst)} new namespaces at once on {len(many)}: create -> set stored",
                     f"p50 {percentile(waits, 50):.2f} s, p99 {percentile(waits, 99):.2f} s, "
                     f"max {max(waits):.2f} s ({cpu:.1f} CPU-s of mlnetpol, {server:.1f} of "
                     f"kube-apiserver + etcd)", "p99 < 2 s"))

        # 6. one after another (optional).
        if lat:
            wait_settled(mport)
            latencies = []
            for n in lat:
                t0 = time.monotonic()
                api.create_namespace(n)
                while len(api.call("GET", f"{NP}/namespaces/{n}/networkpolicies?{MANAGED}")[1]
                          ["items"]) < per_ns:
                    if time.monotonic() - t0 > 30:
                        raise SystemExit(f"{n}: no full set after 30 s")
                    time.sleep(0.002)
                latencies.append((time.monotonic() - t0) * 1000)
            rows.append((f"create ns -> set stored, {len(lat)} one after another",
                         f"p50 {percentile(latencies, 50):.0f} ms, p99 "
                         f"{percentile(latencies, 99):.0f} ms", ""))

        # 4. RSS with every namespace cached.
        wait_settled(mport)
        total = len(many) + len(burst) + len(lat)
        rss = rss_mib(serve.pid)
        # serve gives freed heap pages back every --memory-release-interval (10 s): read again
        # after one interval, so the row is the resident set, not what the burst left to trim.
        time.sleep(11)
        settled = rss_mib(serve.pid)
        print(f"RSS with {total} secured namespaces cached: {rss:.1f} MiB when settled, "
              f"{settled:.1f} MiB one release interval later", flush=True)
        rows.append((f"RSS with {total} secured namespaces",
                     f"{rss:.1f} MiB, {settled:.1f} MiB 11 s later", "< 128 MiB"))

        # 5. kube-apiserver killed, down, started again; a policy deleted as soon as it is ready.
        pid = open(os.path.join(work, "apiserver.pid")).read().strip()
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:-1]
        before = metrics(mport)
        os.kill(int(pid), signal.SIGKILL)
        time.sleep(args.down)
        with open(os.path.join(work, "logs", "apiserver.log"), "ab") as apilog:
            server = subprocess.Popen(cmdline, stdout=apilog, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        with open(os.path.join(work, "apiserver.pid"), "w") as f:
            f.write(str(server.pid))
        while True:
            try:
                api.call("GET", "/readyz")
                break
            except Exception:
                time.sleep(0.05)
        ready = time.monotonic()
        target = many[len(many) // 2]
        path = f"{NP}/namespaces/{target}/networkpolicies/allow-dns"
        api.call("DELETE", path)
        while True:
            status, _ = api.call("GET", path, ok=(200, 404))
            if status == 200:
                break
            if time.monotonic() - ready > 120:
                raise SystemExit("the deleted policy did not come back within 120 s")
            time.sleep(0.02)
        back = time.monotonic() - ready
        time.sleep(3)
        delta = requests_delta(before, metrics(mport))
        lists = count(delta, "list", "2")
        print(f"API server killed, {args.down} s down: ready -> deleted policy back in {back:.2f} s; "
              f"requests since the kill {delta}", flush=True)
        rows.append((f"API server killed, {args.down} s down: ready -> a policy deleted then is back",
                     f"{back:.2f} s ({lists} successful list calls since the kill)", "< 5 s"))
        report(rows)
        print(f"load average at end: {os.getloadavg()}")
    finally:
        if serve:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
        subprocess.run([kapi, "stop", "--dir", work], capture_output=True)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
