#!/usr/bin/env python3
"""Checks the Dockerfile without a Docker engine.

- Its build stage (Debian 12) runs the same scripts CI runs: `.ci/run` is followed through the
  Makefile targets it calls to the scripts/*.sh they run, and the build script is called in Release.
- Its runtime stage (debian:12-slim) installs exactly the packages scripts/runtime-packages.sh
  derives from the binary that build produced, runs as UID 65532, exposes 9443 and 8080 and starts
  `mlnetpol serve`; the Deployment agrees on the UID and ports; .dockerignore keeps secrets out.
- scripts/runtime-packages.sh, run on the built binary here, maps every library to a package.

Usage: check_dockerfile.py --source DIR --binary PATH [--self-test]
--self-test feeds broken Dockerfiles and fails unless each one is rejected.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

UID = 65532


def logical_lines(text):
    """Lines with continuations joined and comments dropped (Dockerfile and Makefile alike)."""
    out, cur = [], ""
    for raw in text.splitlines():
        if not cur and raw.lstrip().startswith("#"):
            continue
        if raw.endswith("\\"):
            cur += raw[:-1] + " "
            continue
        out.append(cur + raw)
        cur = ""
    if cur:
        out.append(cur)
    return [line for line in out if line.strip()]


# ----------------------------------------------------------------------------- CI chain

def make_variables(makefile):
    values = {}
    for line in logical_lines(makefile):
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|=)\s*(.*)$", line)
        if m:
            values[m.group(1)] = m.group(3).strip()
    return values


def expand(text, variables, depth=0):
    if depth > 10:
        return text
    new = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                 lambda m: variables.get(m.group(1), ""), text)
    return new if new == text else expand(new, variables, depth + 1)


def make_rules(makefile):
    """target -> (prerequisites, recipe lines)."""
    rules, current = {}, None
    for line in makefile.splitlines():
        if line.startswith("\t"):
            if current:
                rules[current][1].append(line.strip().lstrip("@-+"))
            continue
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*:(?!=)\s*(.*)$", line)
        if m and not m.group(1).startswith("."):
            current = m.group(1)
            rules[current] = (m.group(2).split(), [])
        elif line.strip() and not line.startswith("#"):
            current = None
    return rules


def script_calls(command):
    """(script, args) for every scripts/*.sh a shell command line runs."""
    calls = []
    for part in re.split(r"&&|\|\||;|\|", command):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        while words and ("=" in words[0] and not words[0].startswith("scripts/")):
            words = words[1:]  # VAR=value prefixes
        if words and re.fullmatch(r"(\./)?scripts/[\w.-]+\.sh", words[0]):
            calls.append((os.path.normpath(words[0]), words[1:]))
    return calls


def reached(rules, variables, targets):
    """Makefile targets reached from targets (prerequisites first-class) and their script calls."""
    calls, seen, queue = [], [], list(targets)
    while queue:
        target = queue.pop(0)
        if target in seen:
            continue
        seen.append(target)
        if target not in rules:
            raise SystemExit(f"make {target}: the Makefile does not define it")
        prereqs, recipe = rules[target]
        queue += prereqs
        for command in recipe:
            calls += [(s, [expand(a, variables) for a in args])
                      for s, args in script_calls(expand(command, variables))]
    return seen, calls


def ci_build_calls(source):
    """The scripts/*.sh calls of the build CI runs: .ci/run -> the make targets it runs -> the
    `build` target among them -> the scripts that target and its prerequisites run."""
    with open(os.path.join(source, ".ci", "run")) as fh:
        ci = fh.read()
    with open(os.path.join(source, "Makefile")) as fh:
        makefile = fh.read()
    variables = make_variables(makefile)
    rules = make_rules(makefile)
    targets = []
    for line in logical_lines(ci):
        m = re.match(r"^\s*(?:exec\s+)?make\b(.*)$", line)
        if m:
            targets += [w for w in shlex.split(m.group(1)) if not w.startswith("-") and "=" not in w]
    seen, _ = reached(rules, variables, targets)
    if "build" not in seen:
        raise SystemExit(f".ci/run reaches make targets {seen}, none of them `build`")
    _, calls = reached(rules, variables, ["build"])
    return calls


# ----------------------------------------------------------------------------- Dockerfile

def parse_dockerfile(text):
    """[{'from': image, 'name': alias, 'instructions': [(INSTR, args)]}]"""
    stages = []
    for line in logical_lines(text):
        instr, _, args = line.strip().partition(" ")
        instr, args = instr.upper(), args.strip()
        if instr == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"from": words[0], "name": name, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((instr, args))
        elif instr != "ARG":
            raise ValueError(f"{instr} before the first FROM")
    return stages


def check_dockerfile(text, ci_calls, dockerignore, deployment):
    errors = []
    try:
        stages = parse_dockerfile(text)
    except ValueError as e:
        return [f"Dockerfile: {e}"]
    if len(stages) < 2:
        return [f"Dockerfile: needs a build and a runtime stage, has {len(stages)}"]
    build, runtime = stages[0], stages[-1]
    if not re.fullmatch(r"debian:(12|bookworm)(-[\w.]+)?(@sha256:[0-9a-f]+)?", build["from"]) or \
            "slim" in build["from"]:
        errors.append(f"build stage must be Debian 12, is {build['from']}")
    if not re.fullmatch(r"debian:(12|bookworm)-slim(@sha256:[0-9a-f]+)?", runtime["from"]):
        errors.append(f"runtime stage must be debian:12-slim, is {runtime['from']}")
    if not build["name"]:
        errors.append("build stage needs a name (FROM ... AS build)")

    build_runs = [args for instr, args in build["instructions"] if instr == "RUN"]
    docker_calls = [c for run in build_runs for c in script_calls(run)]
    # Every script CI's build runs (set-up and build), the image runs too.
    ci_scripts = {s for s, _ in ci_calls}
    for script in sorted(ci_scripts):
        if not any(s == script for s, _ in docker_calls):
            errors.append(f"build stage does not run {script}, which CI runs")
    ci_build = [(s, a) for s, a in ci_calls if s.endswith("build.sh")]
    if not ci_build:
        errors.append("CI runs no scripts/build.sh: the chain .ci/run -> Makefile changed")
    build_dir = None
    for script, args in docker_calls:
        if script.endswith("build.sh"):
            if not args or args[0] != "Release":
                errors.append(f"build stage runs {script} {' '.join(args)}: build type must be "
                              f"Release")
            build_dir = args[1] if len(args) > 1 else "build"
        if script.endswith("setup-deps.sh") and args not in ([], ["--build-only"]):
            errors.append(f"build stage runs setup-deps.sh with {args}")
    for run in build_runs:
        if re.search(r"cmake\s+--build|\bninja\b|\bmake\b|\bg\+\+|\bc\+\+", run):
            errors.append(f"build stage builds outside scripts/build.sh: {run}")
    if build_dir is None:
        return errors + ["build stage never runs scripts/build.sh"]
    binary = f"{build_dir}/mlnetpol"

    # The package list: written by runtime-packages.sh from that very binary, installed as is.
    listing = None
    for run in build_runs:
        m = re.search(r"scripts/runtime-packages\.sh\s+(\S+)\s*>\s*(\S+)", run)
        if m:
            if os.path.normpath(m.group(1)) != os.path.normpath(binary):
                errors.append(f"runtime-packages.sh reads {m.group(1)}, but the build wrote "
                              f"{binary}")
            listing = m.group(2)
    if listing is None:
        errors.append("build stage does not write the package list with scripts/runtime-packages.sh")
    workdir = next((a for i, a in build["instructions"] if i == "WORKDIR"), "/")
    listing_abs = os.path.normpath(os.path.join(workdir, listing or ""))
    binary_abs = os.path.normpath(os.path.join(workdir, binary))

    copies = [args for instr, args in runtime["instructions"] if instr == "COPY"]
    copied = {}
    for args in copies:
        words = args.split()
        if not words or not words[0].startswith("--from=") or len(words) != 3:
            errors.append(f"runtime stage copies from the build context: COPY {args}")
            continue
        if words[0] != f"--from={build['name']}":
            errors.append(f"runtime stage copies from {words[0]}, not the build stage")
        copied[os.path.normpath(words[1])] = words[2]
    if binary_abs not in copied:
        errors.append(f"runtime stage does not copy the built {binary_abs}")
    elif copied[binary_abs] not in ("/usr/local/bin/mlnetpol", "/usr/bin/mlnetpol"):
        errors.append(f"mlnetpol must be on PATH, is copied to {copied[binary_abs]}")
    pkg_dest = copied.get(listing_abs)
    if listing is not None and pkg_dest is None:
        errors.append(f"runtime stage does not copy the package list {listing_abs}")
    runtime_runs = [args for instr, args in runtime["instructions"] if instr == "RUN"]
    installs = [r for r in runtime_runs if re.search(r"apt-get\s+install|\bapt\s+install", r)]
    if len(installs) != 1:
        errors.append(f"runtime stage must install packages once, from the list; has "
                      f"{len(installs)} installs")
    for run in installs:
        m = re.search(r"xargs\s+(?:--arg-file=|-a\s*)(\S+)\s+apt-get\s+install\s+(.*?)(?:&&|$)", run)
        if not m or (pkg_dest and os.path.normpath(m.group(1)) != os.path.normpath(pkg_dest)):
            errors.append(f"runtime stage must install exactly the packages from the list: {run}")
            continue
        extra = [w for w in m.group(2).split() if not w.startswith("-")]
        if extra:
            errors.append(f"runtime stage installs packages besides the list: {extra}")
        if "--no-install-recommends" not in m.group(2):
            errors.append("runtime apt-get install needs --no-install-recommends")

    users = [args for instr, args in runtime["instructions"] if instr == "USER"]
    if not users or users[-1].split(":")[0] != str(UID):
        errors.append(f"runtime stage must end as USER {UID} (numeric), is {users[-1:]}")
    exposed = {w.split("/")[0] for instr, args in runtime["instructions"] if instr == "EXPOSE"
               for w in args.split()}
    if exposed != {"9443", "8080"}:
        errors.append(f"runtime stage must EXPOSE 9443 and 8080, exposes {sorted(exposed)}")
    entry = [args for instr, args in runtime["instructions"] if instr == "ENTRYPOINT"]
    try:
        entry_value = json.loads(entry[-1]) if entry else None
    except json.JSONDecodeError:
        entry_value = entry[-1]
    if entry_value != ["mlnetpol", "serve"]:
        errors.append(f'ENTRYPOINT must be ["mlnetpol","serve"] (exec form), is {entry_value}')

    # The Deployment runs what the image declares.
    pod = deployment["spec"]["template"]["spec"]
    if pod.get("securityContext", {}).get("runAsUser") != UID:
        errors.append(f"Deployment runAsUser differs from the image's USER {UID}")
    ports = {str(p["containerPort"]) for c in pod["containers"] for p in c.get("ports", [])}
    if ports != exposed:
        errors.append(f"Deployment container ports {sorted(ports)} differ from EXPOSE "
                      f"{sorted(exposed)}")

    ignored = {line.strip() for line in dockerignore.splitlines()
               if line.strip() and not line.startswith("#")}
    for must in (".git", "build", "build-*", ".dev-certs", "manifests/certs/*.key"):
        if must not in ignored:
            errors.append(f".dockerignore must exclude {must}")
    return errors


def check_runtime_packages(source, binary):
    errors = []
    script = os.path.join(source, "scripts", "runtime-packages.sh")
    proc = subprocess.run([script, binary], capture_output=True, text=True)
    if proc.returncode != 0:
        return [f"runtime-packages.sh {binary} failed: {proc.stderr.strip()}"]
    packages = proc.stdout.split()
    if packages != sorted(set(packages)):
        errors.append(f"runtime-packages.sh output is not sorted and unique: {packages}")
    if "libc6" not in packages:
        errors.append(f"runtime-packages.sh misses libc6: {packages}")
    libs = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    if "libcrypto.so" in libs and "libssl3" not in packages:
        errors.append(f"the binary loads libcrypto but the list lacks libssl3: {packages}")
    for p in packages:
        if p.endswith("-dev") or not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", p):
            errors.append(f"runtime-packages.sh printed '{p}', not a runtime package name")
    print(f"runtime packages of {binary}: {' '.join(packages)}")
    # Something that is not a binary must fail the mapping, not give an empty list.
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as fh:
        fh.write("#!/bin/sh\n")
    try:
        os.chmod(fh.name, 0o755)
        bad = subprocess.run([script, fh.name], capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    if bad.returncode == 0:
        errors.append("runtime-packages.sh accepted a script that is not an ELF binary")
    return errors


# ----------------------------------------------------------------------------- self-test

def breakages(text):
    """(description, expected error fragment, broken Dockerfile text)."""
    def sub(old, new):
        if old not in text:
            raise SystemExit(f"self-test: the Dockerfile no longer contains {old!r}")
        return text.replace(old, new, 1)
    return [
        ("own build command", "does not run scripts/build.sh",
         sub("scripts/build.sh Release build", "cmake --build build")),
        ("debug build", "must be Release", sub("scripts/build.sh Release", "scripts/build.sh Debug")),
        ("no setup script", "does not run scripts/setup-deps.sh",
         sub("RUN scripts/setup-deps.sh --build-only", "RUN apt-get update")),
        ("root user", "USER 65532", sub("USER 65532:65532", "USER root")),
        ("shell entrypoint", "ENTRYPOINT", sub('ENTRYPOINT ["mlnetpol", "serve"]',
                                             "ENTRYPOINT mlnetpol serve")),
        ("extra package", "besides the list",
         sub("apt-get install -y --no-install-recommends",
             "apt-get install -y --no-install-recommends curl")),
        ("list of another binary", "runtime-packages.sh reads",
         sub("scripts/runtime-packages.sh build/mlnetpol", "scripts/runtime-packages.sh /bin/ls")),
        ("no metrics port", "EXPOSE 9443 and 8080", sub("EXPOSE 9443 8080", "EXPOSE 9443")),
        ("fat runtime", "debian:12-slim", sub("FROM debian:12-slim", "FROM debian:12")),
        ("context copy", "copies from the build context",
         sub("COPY --from=build /src/build/mlnetpol", "COPY build/mlnetpol")),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()

    def read(*parts):
        with open(os.path.join(args.source, *parts)) as fh:
            return fh.read()
    dockerfile, dockerignore = read("Dockerfile"), read(".dockerignore")
    deployment = yaml.safe_load(read("manifests", "base", "deployment.yaml"))
    ci_calls = ci_build_calls(args.source)
    print("CI builds with: " + ", ".join(f"{s} {' '.join(a)}".strip() for s, a in ci_calls))

    errors = check_dockerfile(dockerfile, ci_calls, dockerignore, deployment)
    if not os.access(args.binary, os.X_OK):
        errors.append(f"mlnetpol binary not found at {args.binary}: build it first")
    else:
        errors += check_runtime_packages(args.source, args.binary)
    if args.self_test:
        cases = breakages(dockerfile)
        missed = 0
        for what, fragment, broken in cases:
            found = check_dockerfile(broken, ci_calls, dockerignore, deployment)
            if not any(fragment in e for e in found):
                missed += 1
                errors.append(f"self-test '{what}': no error containing '{fragment}' ({found})")
        print(f"self-test: {len(cases)} broken Dockerfiles, {missed} not caught")
    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
