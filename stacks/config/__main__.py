"""`python -m stacks.config --schema [PATH]`: write the JSON schema of the stack files."""

import argparse
import json
import sys
from pathlib import Path

from stacks.config.schema import stack_file_schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.config", description="Stack configuration tools.")
    parser.add_argument(
        "--schema",
        nargs="?",
        const="stacks/config/stack.schema.json",
        metavar="PATH",
        help="write the stack-file JSON schema (default: %(const)s)",
    )
    args = parser.parse_args(argv)
    if args.schema is None:
        parser.print_help()
        return 2
    Path(args.schema).write_text(json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.schema}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
