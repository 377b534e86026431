"""`nudge schema KIND`: print the JSON Schema the runner checks a kind of file against."""

from __future__ import annotations

import argparse

from runner.schema import KINDS, schema_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, help="which file's schema")


def run(args: argparse.Namespace) -> int:
    print(schema_text(args.kind), end="")
    return 0
