"""Entry point of the bootstrap project: load Pulumi.bootstrap.yaml, register, export."""

import sys
from pathlib import Path

import pulumi

# The CLI runs this file from bootstrap/; the `bootstrap` and `components` packages are
# imported from the repository root, as the tests and pyright import them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bootstrap.config import load
from bootstrap.program import build_bootstrap

for output_name, value in build_bootstrap(load()).items():
    pulumi.export(output_name, value)
