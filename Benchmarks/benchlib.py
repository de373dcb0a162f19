"""Shared by the benchmark scripts: the fluxs binary to measure (the release build unless --fluxs is given)."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fluxs_binary(given):
    """`given`, or the release binary, built first."""
    if given:
        return given
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "fluxs", "-q"], cwd=ROOT, check=True)
    return os.path.join(ROOT, ".build", "release", "fluxs")
