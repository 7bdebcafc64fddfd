"""Run localstripe (a local Stripe-compatible API) on 127.0.0.1 only, keeping nothing on disk.

``localstripe --port N`` listens on every interface and saves its state to
/tmp/localstripe.pickle after every change; the tests want neither, so they start it
through this module: ``python -m tests.localstripe_server --port N``.
"""

from __future__ import annotations

import argparse

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # In memory only: another run on this machine must not read or clobber our state.
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
