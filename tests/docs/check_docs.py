#!/usr/bin/env python3
"""Runs the shell commands of the documentation, so that no doc goes stale.

Every fenced ```sh block of README.md, docs/*.md and examples/README.md is split into commands
(backslash continuations joined). In a scratch copy of the source tree, with `mlnetpol` and
`build/mlnetpol` being the built binary, each doc's commands run in order:
- a command runs with bash (pipefail) and must exit 0, or N when its trailing comment says
  `exit N`; `make TARGET` is checked with `make -n TARGET`;
- after a comment line `# needs ...` (a cluster, Docker, a running server, a build tree) the rest
  of the block is not run; instead every file it names must exist, `kubectl ... -k DIR` must
  render with `kubectl kustomize`, and `-f FILE` must be YAML.
Blocks tagged bash/shell/console are refused: shell commands go in ```sh blocks so they are run.
--self-test feeds broken docs that must be reported.

Usage: check_docs.py --source DIR --binary PATH [--kubectl PATH] [--self-test]
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

FENCE = re.compile(r"^```(\S*)\s*$")
PATH_FLAGS = {"-f", "-k", "--filename", "--kustomize", "--config", "--out", "-CAfile", "--cacert"}
EXIT = re.compile(r"#.*\bexit (\d+)\b")
TIMEOUT = 120


def doc_files(source):
    files = [os.path.join(source, "README.md")]
    files += sorted(glob.glob(os.path.join(source, "docs", "*.md")))
    files.append(os.path.join(source, "examples", "README.md"))
    return files


def blocks(text):
    """(language, first line number, lines) of every fenced block."""
    out, lang, start, body = [], None, 0, []
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if m and lang is None:
            lang, start, body = m.group(1), n + 1, []
        elif line.strip() == "```" and lang is not None:
            out.append((lang, start, body))
            lang = None
        elif lang is not None:
            body.append(line)
    return out


def commands(lines, start):
    """(line number, command text, needs-marker or None) per command of an sh block."""
    out, marker, pending, pending_line = [], None, "", 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            if stripped.startswith("# needs"):
                marker = stripped[2:]
            continue
        if not pending:
            pending_line = start + i
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        out.append((pending_line, pending + stripped, marker))
        pending = ""
    if pending:
        out.append((pending_line, pending, marker))
    return out


def split_words(command):
    try:
        return shlex.split(command, comments=True)
    except ValueError:
        return None


def named_paths(words, tree):
    """Files a command names: values of path flags, @file data, and words under a top-level
    folder of the source tree."""
    top = {e for e in os.listdir(tree) if not e.startswith(".")}
    paths = []
    for i, w in enumerate(words):
        if w in PATH_FLAGS and i + 1 < len(words):
            candidate = words[i + 1]
        elif w.startswith("@"):
            candidate = w[1:]
        elif "/" in w and not w.startswith(("-", "/")) and re.fullmatch(r"[\w./-]+", w):
            candidate = w
        else:
            continue
        # Only the tree's own files: others (.dev-certs/, /tmp/...) are made by earlier steps.
        if candidate.split("/")[0] in top:
            paths.append(candidate)
    return paths


def programs(command):
    """The program of each part of a pipeline or list, comments dropped."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    out, first = [], True
    for token in lexer:
        if token in ("|", "||", "&&", ";", "&"):
            first = True
        elif first and not re.fullmatch(r"[<>]+|\d*[<>]+.*", token):
            out.append(token)
            first = False
    return out


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    """GitHub's anchor for a heading."""
    text = heading.strip().lstrip("#").strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text):
    out, in_code = set(), False
    for line in text.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"^#{1,6} ", line):
            out.add(slug(line))
    return out


def check_links(path, text):
    """Relative links must name existing files, and #anchors existing headings."""
    errors = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part \
            else path
        if not os.path.exists(dest):
            errors.append(f"{path}: link to {target}: no such file")
        elif anchor and dest.endswith(".md"):
            with open(dest) as fh:
                if anchor not in anchors(fh.read()):
                    errors.append(f"{path}: link to {target}: no such heading")
    return errors


class Checker:
    def __init__(self, source, binary, kubectl):
        self.source, self.binary, self.kubectl = source, binary, kubectl
        self.notes = []

    def scratch_tree(self, tmp):
        tree = os.path.join(tmp, "tree")
        ignore = shutil.ignore_patterns(".git", "build", "build-*", ".dev-certs", "tls.crt",
                                        "tls.key", "ca.crt", "*.pyc", "__pycache__")
        shutil.copytree(self.source, tree, ignore=ignore, symlinks=True)
        os.makedirs(os.path.join(tree, "build"), exist_ok=True)
        os.symlink(os.path.abspath(self.binary), os.path.join(tree, "build", "mlnetpol"))
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(self.binary), os.path.join(bindir, "mlnetpol"))
        return tree, bindir

    def run(self, command, tree, bindir):
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
        return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=tree, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)

    def kustomize(self, directory, tree, bindir):
        render = lambda: subprocess.run([self.kubectl, "kustomize", directory], cwd=tree,
                                        capture_output=True, text=True, timeout=TIMEOUT)
        r = render()
        if r.returncode != 0 and \
                not os.path.exists(os.path.join(tree, "manifests", "certs", "tls.crt")):
            # overlays/external needs the certificate its install step writes; the self-managed
            # overlays render without it, so the step is only taken when rendering asks for it.
            self.run("mlnetpol certs --out manifests/certs", tree, bindir)
            r = render()
        return r

    def check_not_run(self, where, command, words, tree, bindir):
        errors = []
        if any(p.startswith("manifests/certs/") for p in named_paths(words, tree)) and \
                not os.path.exists(os.path.join(tree, "manifests", "certs", "tls.crt")):
            self.run("mlnetpol certs --out manifests/certs", tree, bindir)  # the install's step 1
        build_dir = os.path.dirname(os.path.abspath(self.binary))
        for p in named_paths(words, tree):
            # build/... is the real build tree, which the scratch copy does not have.
            real = os.path.join(build_dir, p[len("build/"):]) if p.startswith("build/") else None
            if not os.path.exists(os.path.join(tree, p)) and not (real and os.path.exists(real)):
                errors.append(f"{where}: names {p}, which does not exist: {command}")
        if words and os.path.basename(words[0]) == "kubectl" and "-k" in words:
            target = words[words.index("-k") + 1]
            if self.kubectl and os.path.isdir(os.path.join(tree, target)):
                r = self.kustomize(target, tree, bindir)
                if r.returncode != 0:
                    errors.append(f"{where}: kubectl kustomize {target} fails: {r.stderr.strip()}")
        if words and "-f" in words:
            target = words[words.index("-f") + 1]
            full = os.path.join(tree, target)
            if target != "-" and os.path.isfile(full):
                try:
                    with open(full) as fh:
                        list(yaml.safe_load_all(fh))
                except yaml.YAMLError as e:
                    errors.append(f"{where}: {target} is not YAML: {e}")
        return errors

    def check_command(self, where, command, marker, tree, bindir):
        words = split_words(command)
        if words is None:
            return [f"{where}: not a well-formed shell command: {command}"]
        if marker:
            return self.check_not_run(where, command, words, tree, bindir)
        if words and words[0] == "make":
            r = subprocess.run(["make", "-n", *words[1:]], cwd=tree, capture_output=True,
                               text=True, timeout=TIMEOUT)
            return [] if r.returncode == 0 else [f"{where}: make -n fails: {r.stderr.strip()}"]
        for name in programs(command):
            if name and "=" not in name and name not in ("cd", "echo") and \
                    not shutil.which(name, path=bindir + os.pathsep + os.environ["PATH"]) and \
                    not os.path.exists(os.path.join(tree, name)):
                if name == "kubectl" and not self.kubectl:
                    self.notes.append(f"{where}: not run, kubectl is not installed")
                    return []
                return [f"{where}: {name} is not installed and the command has no '# needs' "
                        f"comment: {command}"]
        expected = int(m.group(1)) if (m := EXIT.search(command)) else 0
        r = self.run(command, tree, bindir)
        if r.returncode != expected:
            return [f"{where}: exit {r.returncode}, expected {expected}: {command}\n"
                    f"{(r.stderr or r.stdout).strip()[:600]}"]
        return []

    def check_doc(self, name, text, tmp):
        tree, bindir = self.scratch_tree(tmp)
        errors, count = [], 0
        for lang, start, body in blocks(text):
            if lang in ("bash", "shell", "console", "shell-session", "zsh"):
                errors.append(f"{name}:{start - 1}: a ```{lang} block: use ```sh so it is run")
                continue
            if lang != "sh":
                continue
            for line, command, marker in commands(body, start):
                count += 1
                errors += self.check_command(f"{name}:{line}", command, marker, tree, bindir)
        return errors, count


def check_front_door(path, text):
    """README.md is the front door: short, and no developer internals."""
    errors = []
    if text.count("\n") > 160:
        errors.append(f"{path}: {text.count(chr(10))} lines; keep the front door under 160 and "
                      "move reference text into docs/")
    for internal in ("../shared", "benchmark ratio", "median ratio", "req/s"):
        if internal in text:
            errors.append(f"{path}: mentions {internal!r}, a developer internal (docs/development.md)")
    return errors


def self_test(checker):
    cases = [
        ("a failing command", "```sh\nmlnetpol render --bogus\n```\n", "exit 2, expected 0"),
        ("a wrong exit comment", "```sh\nmlnetpol version   # exit 1\n```\n", "expected 1"),
        ("a missing file", "```sh\n# needs a cluster\nkubectl apply -f manifests/nope.yaml\n```\n",
         "manifests/nope.yaml, which does not exist"),
        ("an unknown program", "```sh\nhubble observe -n training\n```\n", "not installed"),
        ("a bash block", "```bash\nmlnetpol version\n```\n", "use ```sh"),
        ("a broken make target", "```sh\nmake no-such-target\n```\n", "make -n fails"),
    ]
    if checker.kubectl:
        cases.append(("a broken overlay",
                      "```sh\n# needs a cluster\nkubectl apply -k manifests/base/\n```\n"
                      "```sh\nmkdir -p manifests/overlays/broken && echo 'resources: [nope]' > "
                      "manifests/overlays/broken/kustomization.yaml\n```\n"
                      "```sh\n# needs a cluster\nkubectl apply -k manifests/overlays/broken\n```\n",
                      "kubectl kustomize manifests/overlays/broken fails"))
    failures = []
    with tempfile.TemporaryDirectory(prefix="mlnetpol-docs-links-") as tmp:
        doc = os.path.join(tmp, "doc.md")
        text = "# Title\n\n[a](#title) [b](#no-such) [c](missing.md) [d](doc.md#title)\n"
        with open(doc, "w") as fh:
            fh.write(text)
        found = check_links(doc, text)
        if len(found) != 2 or "no such heading" not in found[0] or "no such file" not in found[1]:
            failures.append(f"self-test 'links': expected 2 broken links, got {found}")
    if len(check_front_door("README.md", "x\n" * 200 + "see ../shared/perf")) != 2:
        failures.append("self-test 'front door': a long README naming ../shared passed")
    for what, text, fragment in cases:
        with tempfile.TemporaryDirectory(prefix="mlnetpol-docs-self-") as tmp:
            errors, _ = checker.check_doc(what, text, tmp)
        if not any(fragment in e for e in errors):
            failures.append(f"self-test '{what}': no error containing '{fragment}' (got {errors})")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--kubectl", default="")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        raise SystemExit(f"mlnetpol binary not found at {args.binary}: build it first")
    kubectl = args.kubectl if args.kubectl and os.access(args.kubectl, os.X_OK) else ""
    checker = Checker(args.source, args.binary, kubectl)
    failures, total = [], 0
    for path in doc_files(args.source):
        with open(path) as fh:
            text = fh.read()
        with tempfile.TemporaryDirectory(prefix="mlnetpol-docs-") as tmp:
            errors, count = checker.check_doc(os.path.relpath(path, args.source), text, tmp)
        failures += errors + check_links(os.path.relpath(path), text)
        if os.path.basename(path) == "README.md" and os.path.normpath(os.path.dirname(path)) == \
                os.path.normpath(args.source):
            failures += check_front_door("README.md", text)
        total += count
    if args.self_test:
        failures += self_test(checker)
    for n in checker.notes:
        print(f"note: {n}")
    for f in failures:
        print(f"FAIL: {f}")
    if failures:
        return 1
    print(f"ok: {total} documented commands checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
