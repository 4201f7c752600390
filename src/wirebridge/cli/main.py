"""``wirebridge`` command line: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import sys

from wirebridge import __version__
from wirebridge.cli import config_cmd, daemon, doctor, keys, login, models, serve, store


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wirebridge", description="LLM API gateway: Responses, Chat Completions, Messages."
    )
    parser.add_argument("--version", action="version", version=f"wirebridge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve.register(sub)
    daemon.register(sub)  # start, stop, restart, status
    doctor.register(sub)
    config_cmd.register(sub)
    models.register(sub)
    store.register(sub)
    login.register(sub)
    keys.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
