"""`nudge schema KIND`: print the JSON Schema the runner checks a kind of file against;
`nudge schema --docs DIR`: write the file formats documented from the schemas (docs/formats/)."""

from __future__ import annotations

import argparse
from pathlib import Path

from runner.errors import NudgeError
from runner.schema import KINDS, schema, schema_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", choices=KINDS, help="which file's schema")
    parser.add_argument(
        "--docs",
        type=Path,
        metavar="DIR",
        help="write one Markdown page per kind of file into DIR (e.g. docs/formats/)",
    )


def run(args: argparse.Namespace) -> int:
    if args.docs is not None:
        if args.kind:
            raise NudgeError("give a KIND to print its schema, or --docs DIR, not both")
        written = write_docs(args.docs)
        print(f"wrote {len(written)} pages to {args.docs}")
        return 0
    if not args.kind:
        raise NudgeError(f"which schema? give one of: {', '.join(KINDS)} (or --docs DIR)")
    print(schema_text(args.kind), end="")
    return 0


def pages() -> dict[str, str]:
    """File name -> Markdown, for every kind of file and the index."""
    from runner import schemadocs

    schemas = {kind: schema(kind) for kind in KINDS}
    out = {f"{kind}.md": schemadocs.page(kind, s) for kind, s in schemas.items()}
    out["README.md"] = schemadocs.index(schemas)
    return out


def write_docs(folder: Path) -> list[Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NudgeError(f"cannot create {folder}: {exc.strerror or exc}") from None
    written = []
    for name, text in pages().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
