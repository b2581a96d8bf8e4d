#!/usr/bin/env python3
"""Runs `mlnetpol serve` (dev certificate, no reconciler, free ports), scrapes its /metrics and
feeds it to `promtool check metrics`: the exposition must be clean (names, suffixes, HELP/TYPE)
and carry the standard process_* families, mlnetpol_build_info and the reload timestamps.

Usage: check_live_metrics.py --binary PATH --promtool PATH
Exit 77 (skipped) when promtool is absent (Debian: apt-get install prometheus).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIPPED = 77
REQUIRED = ("process_cpu_seconds_total", "process_resident_memory_bytes",
            "process_virtual_memory_bytes", "process_start_time_seconds", "process_open_fds",
            "process_max_fds", "mlnetpol_build_info{", "mlnetpol_policies",
            "mlnetpol_config_last_reload_success_timestamp_seconds",
            "mlnetpol_certificate_last_reload_success_timestamp_seconds")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port, server):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"serve exited with {server.returncode}: {server.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                return r.read().decode()
        except OSError:
            time.sleep(0.1)
    raise SystemExit("no /metrics answer within 30 s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--promtool", default="")
    args = ap.parse_args()
    if not args.promtool or not os.access(args.promtool, os.X_OK):
        print("SKIPPED: promtool is not installed (Debian package prometheus)")
        return SKIPPED
    with tempfile.TemporaryDirectory(prefix="mlnetpol-live-metrics-") as tmp:
        subprocess.run([args.binary, "certs", "--dev", "--out", tmp], check=True,
                       stdout=subprocess.DEVNULL)
        metrics_port = free_port()
        server = subprocess.Popen(
            [args.binary, "serve", "--port", "0", "--bind-address", "127.0.0.1",
             "--metrics-bind-address", f"127.0.0.1:{metrics_port}", "--reconcile=false",
             "--cert-management=external", "--log-level", "error", "--threads", "1",
             "--tls-cert-file", os.path.join(tmp, "tls.crt"),
             "--tls-key-file", os.path.join(tmp, "tls.key")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            text = scrape(metrics_port, server)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    failures = [f"/metrics lacks {name}" for name in REQUIRED if f"\n{name}" not in text]
    check = subprocess.run([args.promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True)
    if check.returncode != 0 or check.stdout.strip() or check.stderr.strip():
        failures.append(f"promtool check metrics (exit {check.returncode}):\n"
                        f"{check.stdout}{check.stderr}")
    for failure in failures:
        print(failure)
    if not failures:
        print(f"live /metrics: {len(text.splitlines())} lines, promtool check metrics clean")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
