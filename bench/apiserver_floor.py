#!/usr/bin/env python3
"""What storing the policy sets costs kube-apiserver and etcd alone, without mlnetpol (bench/README.md).

Starts kapi with no webhook, creates N namespaces, then stores the set `mlnetpol render` gives for
a tenant namespace in each of them from 16 client threads, either as plain creates (POST) or as
server-side applies (what the reconciler sends), and prints the CPU seconds kube-apiserver and etcd
used per object. That CPU is the floor of `make bench-reconcile`'s enrolment and burst rows: on 2
cores no controller can store the objects faster than the API server can process them.
Usage: bench/apiserver_floor.py [--namespaces 1000] [--mode create|apply]
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import time

from reconcile import NP, ROOT, Api, server_cpu, start_kapi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--namespaces", type=int, default=1000)
    ap.add_argument("--mode", choices=("create", "apply"), default="apply")
    ap.add_argument("--binary", default=os.environ.get("MLNETPOL", os.path.join(ROOT, "build/mlnetpol")))
    args = ap.parse_args()
    kapi = os.environ.get("MLNETPOL_KAPI") or os.path.join(ROOT, "../shared/tools/kube-apiserver/kapi")
    work, port, _ = start_kapi(kapi, "mlnetpol-floor-")
    try:
        api = Api(port, os.path.join(work, "pki"))
        config = os.path.join(work, "config.yaml")
        with open(config, "w") as f:
            f.write("platform_namespaces: []\nml_training_namespaces: []\n"
                    "ml_inference_namespaces: []\nenforcement_mode: enforce\ntenant_namespaces: [x]\n")
        items = json.loads(subprocess.run(
            [args.binary, "render", "--config", config, "--namespace", "x", "-o", "json"],
            capture_output=True, text=True, check=True).stdout)["items"]
        names = [f"floor-{i}" for i in range(args.namespaces)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(api.create_namespace, names))

        def store(ns):
            for item in items:
                obj = dict(item, metadata=dict(item["metadata"], namespace=ns))
                if args.mode == "create":
                    api.call("POST", f"{NP}/namespaces/{ns}/networkpolicies", obj)
                    continue
                c = api.conn()
                c.request("PATCH", f"{NP}/namespaces/{ns}/networkpolicies/{obj['metadata']['name']}"
                                   "?fieldManager=mlnetpol&force=true", body=json.dumps(obj).encode(),
                          headers={"Content-Type": "application/apply-patch+yaml"})
                r = c.getresponse()
                text = r.read()
                if r.status not in (200, 201):
                    raise SystemExit(f"apply in {ns}: {r.status} {text[:200]!r}")

        server0, t0 = server_cpu(work), time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(store, names))
        took, cpu = time.monotonic() - t0, server_cpu(work) - server0
        objects = len(names) * len(items)
        print(f"{args.mode}: {objects} objects in {len(names)} namespaces, {took:.1f} s wall; "
              f"kube-apiserver + etcd {cpu:.1f} CPU-s = {1000 * cpu / objects:.2f} ms per object; "
              f"load average {os.getloadavg()}")
    finally:
        subprocess.run([kapi, "stop", "--dir", work], capture_output=True)


if __name__ == "__main__":
    main()
