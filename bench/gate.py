#!/usr/bin/env python3
"""Scheduling-gate benchmark against the real kube-apiserver v1.28.7 (`make bench-gate`, issue 23).

Starts kapi (MLNETPOL_KAPI, else ../shared/tools/kube-apiserver/kapi), installs the project's RBAC
and webhooks, runs one `mlnetpol serve` (leader) with a bound service-account token and a
configuration securing --namespaces tenant namespaces that do not exist yet, then creates them and
--pods pods over them as fast as the API server takes them (8 clients; each creates a namespace,
its `default` ServiceAccount, then its pods back to back). A watch of every pod records when each
gated pod's gate is removed. Reports: pods gated, create -> released p50/p99 (from the create's
answer to the watch event that shows the gate gone), mlnetpol's API writes per pod (pod patches
and all writes), and that nothing is left gated. Builds nothing: run `make build` first.
Usage: bench/gate.py [--namespaces 50] [--pods 1000]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reconcile import (ROOT, Api, count, install_mlnetpol, metrics, percentile,  # noqa: E402
                       report, requests_delta, start_kapi, start_serve)

GATE = "mlnetpol.io/policy-set"
LABEL = "mlnetpol.io/gated"


def gated(pod):
    return any(g.get("name") == GATE for g in (pod.get("spec") or {}).get("schedulingGates") or [])


class PodWatch:
    """Every pod's first event without mlnetpol's gate, by namespace/name."""

    def __init__(self, api):
        self.api = api
        self.released = {}
        self.lock = threading.Lock()
        _, listed = api.call("GET", "/api/v1/pods?limit=1")
        self.rv = listed["metadata"]["resourceVersion"]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        c = http.client.HTTPSConnection("127.0.0.1", self.api.port, context=self.api.ctx,
                                        timeout=3600)
        c.request("GET", f"/api/v1/pods?watch=1&resourceVersion={self.rv}&timeoutSeconds=3600")
        r = c.getresponse()
        try:
            for line in r:
                e = json.loads(line)
                if e["type"] != "MODIFIED":
                    continue
                pod = e["object"]
                md = pod["metadata"]
                if not gated(pod) and LABEL not in (md.get("labels") or {}):
                    with self.lock:
                        self.released.setdefault(f"{md['namespace']}/{md['name']}", time.monotonic())
        except (OSError, http.client.HTTPException, ValueError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--binary", default=os.environ.get("MLNETPOL", os.path.join(ROOT, "build/mlnetpol")))
    args = ap.parse_args()
    kapi = os.environ.get("MLNETPOL_KAPI") or os.path.join(ROOT, "../shared/tools/kube-apiserver/kapi")
    if not os.path.isfile(kapi):
        raise SystemExit("bench-gate: no kapi script (set MLNETPOL_KAPI)")
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"bench-gate: {args.binary} not built; run 'make build' first")
    print(f"load average at start: {os.getloadavg()}", flush=True)
    work, port, env = start_kapi(kapi, "mlnetpol-bench-gate-")
    serve = None
    try:
        api = Api(port, os.path.join(work, "pki"))
        certs, sa_kubeconfig = install_mlnetpol(args.binary, env, work, port)
        names = [f"gate-{i}" for i in range(args.namespaces)]
        config = os.path.join(work, "config.yaml")
        with open(config, "w") as f:
            f.write("platform_namespaces: []\nml_training_namespaces: []\n"
                    "ml_inference_namespaces: []\nenforcement_mode: enforce\n"
                    f"tenant_namespaces: [{', '.join(names)}]\n")
        serve, _, mport = start_serve(args.binary, env, work, certs, config, sa_kubeconfig)
        deadline = time.monotonic() + 60
        while "\nmlnetpol_leader 1" not in metrics(mport):
            if time.monotonic() > deadline:
                raise SystemExit("bench-gate: mlnetpol did not become leader in 60 s")
            time.sleep(0.2)
        watch = PodWatch(api)
        before = metrics(mport)
        per_ns = [args.pods // args.namespaces + (i < args.pods % args.namespaces)
                  for i in range(args.namespaces)]
        created = {}  # ns/name -> (answer time, gated)
        lock = threading.Lock()

        def fill(i):
            ns = names[i]
            api.create_namespace(ns)
            api.call("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
            for p in range(per_ns[i]):
                _, pod = api.call("POST", f"/api/v1/namespaces/{ns}/pods", {
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{p}"},
                    "spec": {"automountServiceAccountToken": False,
                             "containers": [{"name": "c", "image": "nginx"}]}})
                with lock:
                    created[f"{ns}/p{p}"] = (time.monotonic(), gated(pod))

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(fill, range(args.namespaces)))
        took = time.monotonic() - t0
        print(f"created {args.namespaces} namespaces and {len(created)} pods in {took:.1f} s",
              flush=True)
        gated_pods = {k: v[0] for k, v in created.items() if v[1]}
        deadline = time.monotonic() + 120
        while True:
            with watch.lock:
                left = [k for k in gated_pods if k not in watch.released]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(1)  # the last patches' metrics
        after = metrics(mport)
        delta = requests_delta(before, after)
        with watch.lock:
            held = [watch.released[k] - t for k, t in gated_pods.items() if k in watch.released]
        _, still = api.call("GET", f"/api/v1/pods?labelSelector={LABEL.replace('/', '%2F')}%3Dtrue")
        left_gated = len(still["items"])
        # Every PATCH: a gated pod's release, each namespace's labels and policy-set annotation.
        pod_patches = count(delta, "patch")
        writes = sum(v for k, v in delta.items()
                     if any(f'verb="{w}"' in k for w in ("apply", "patch", "update", "create", "delete")))
        rows = [
            ("pods created / gated", f"{len(created)} / {len(gated_pods)}", "gated until stored"),
            ("create -> released p50", f"{percentile(held, 50) * 1000:.0f} ms" if held else "n/a", ""),
            ("create -> released p99", f"{percentile(held, 99) * 1000:.0f} ms" if held else "n/a",
             "< 1 s"),
            ("mlnetpol patch requests per gated pod",
             f"{pod_patches / max(1, len(gated_pods)):.2f}",
             "1 per gated pod (+1 per namespace: its annotation, + its labels)"),
            ("mlnetpol writes per pod (all kinds)", f"{writes / max(1, len(created)):.2f}", ""),
            ("pods left gated", str(left_gated), "0"),
        ]
        report(rows)
        print(f"\nmlnetpol API requests during the run: {delta}")
        return 0 if left_gated == 0 else 1
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=30)
        subprocess.run([kapi, "stop", "--dir", work], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
