#!/usr/bin/env python3
"""Loads flux's golden-test fixtures into the API simulator as flux's own tests
do: each document is applied, then its status is written through the status
subresource (as a controller would).

usage: fixtures.py apply FILE [--ns NAMESPACE] [--set KEY=VALUE ...]
       fixtures.py render FILE [--ns NAMESPACE] [--set KEY=VALUE ...]

Go template fields `{{ .fluxns }}` and `{{ .ns }}` are replaced by the
namespace, `{{ .KEY }}` by --set values; `{{range ...}}...{{end}}` blocks
render empty (there is no data for them), as in flux's tests.
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.exit("fixtures.py needs PyYAML")


def render(text, ns, extra):
    text = re.sub(r"\{\{\s*range[^}]*\}\}.*?\{\{\s*end\s*\}\}", "", text, flags=re.S)
    values = {"fluxns": ns, "ns": ns}
    values.update(extra)
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), text)


def kubectl(args, stdin=None):
    p = subprocess.run(["kubectl"] + args, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("kubectl %s: %s" % (" ".join(args), p.stderr.strip()))
    return p.stdout


def apply(text):
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        status = doc.pop("status", None)
        kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=fixtures", "-f", "-"], json.dumps(doc))
        if status:
            with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                json.dump(doc, f)
                f.flush()
                kubectl(["patch", "-f", f.name, "--subresource=status", "--type=merge", "-p", json.dumps({"status": status})])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["apply", "render"])
    ap.add_argument("file")
    ap.add_argument("--ns", default="flux-system")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    extra = dict(s.split("=", 1) for s in a.set)
    text = render(open(a.file).read(), a.ns, extra)
    if a.cmd == "render":
        sys.stdout.write(text)
    else:
        apply(text)


if __name__ == "__main__":
    main()
