"""Command line: ``colorclass serve``, the local web page that steers a model's colours.

    --run RUN | --model NAME -> inference.Predictor -> server.make_server(host, port) -> the page
        (prints its address; --open opens it in the default browser) -> Ctrl-C stops it
"""
from __future__ import annotations

import argparse
import errno
import logging
import socket
import threading

from colorclass.cli.common import UsageError, add_device_option, add_model_options, model_source, require_dir

log = logging.getLogger(__name__)

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0..65535 (0 picks a free port)")
    return port


def _add_serve(p: argparse.ArgumentParser) -> None:
    add_model_options(p, run_help="a trained run folder (default: the built-in model, see `colorclass "
                                  "models`); a hint-aware run recolours with the page's hints")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000; 0 = a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only; another address lets "
                        "other computers use the page and your photos' colours: a warning is printed)")
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")
    add_device_option(p)
    p.set_defaults(handler=_run_serve)


def _run_serve(a: argparse.Namespace) -> int:
    from colorclass.inference.predictor import Predictor
    from colorclass.server import make_server

    if a.run is not None:
        require_dir(a.run, "--run RUN_DIR")
    source = model_source(a)
    predictor = Predictor.load(source, device=a.device)
    try:
        server = make_server(predictor, host=a.host, port=a.port)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"serve: port {a.port} on {a.host} is in use; pass another --port "
                             "(or --port 0 for a free one)") from None
        if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(e, socket.gaierror):
            raise UsageError(f"serve: cannot listen on --host {a.host!r} ({e.strerror or e}); "
                             "pass an address of this computer, e.g. 127.0.0.1") from None
        raise
    if a.host not in LOCAL_HOSTS:
        log.warning("warning: listening on %s: other computers that reach this address can use the page "
                    "(there is no password); use the default --host 127.0.0.1 to keep it to this computer", a.host)
    print(f"colorclass serve: {predictor.describe()}")
    print(f"open {server.url} in a web browser (Ctrl-C stops the server)", flush=True)
    if a.open:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
