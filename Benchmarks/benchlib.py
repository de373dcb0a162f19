"""Shared by the benchmark scripts: the fluxs binary to measure (the release build unless --fluxs is given)."""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fluxs_binary(given):
    """`given`, or the release binary, built first."""
    if given:
        return given
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "fluxs", "-q"], cwd=ROOT, check=True)
    return os.path.join(ROOT, ".build", "release", "fluxs")


def run_quiet(cmd, env=None, cwd=None, stdin=None):
    """Runs `cmd` with stdout discarded; a failure raises with its stderr."""
    subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, env=env, cwd=cwd,
                   text=True)


def timed_quiet(cmd, env=None, cwd=None):
    """Seconds taken by run_quiet(cmd)."""
    t0 = time.perf_counter()
    run_quiet(cmd, env, cwd)
    return time.perf_counter() - t0


def require_testenv(*names):
    """Exits unless the test environment's variables (`names`, default git and kube) are set."""
    for v in names or ("FLUXS_TEST_GIT_ROOT", "FLUXS_TEST_GIT_HTTP", "KUBECONFIG"):
        if not os.environ.get(v):
            sys.exit("%s is not set: run this inside tools/testenv/testenv.py run -- ..." % v)
