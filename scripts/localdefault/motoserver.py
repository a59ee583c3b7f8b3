"""moto in server mode, plus the one thing the kit needs that moto lacks: a Lambda function's code download.

On AWS, ``lambda:GetFunction`` returns ``Code.Location``, a short-lived URL from which the deployed package
can be downloaded. moto returns a made-up S3 address that nothing serves. This launcher runs the standard
moto server and rewrites that address to a route on the same server that returns the stored package bytes,
so the local invoker (``release/invoke.py``) downloads the deployed package exactly as it would on AWS.

    python -m scripts.localdefault.motoserver -p 5000
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import signal
import sys
from typing import Any

from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

CODE_ROUTE = "/_release_kit/lambda-code/"


def _code_location(function: LambdaFunction) -> str:
    base = os.environ.get("RELEASE_KIT_MOTO_URL", "http://127.0.0.1:5000")
    return f"{base}{CODE_ROUTE}{function.account_id}/{function.region}/{function.function_name}"


_original_get_code = LambdaFunction.get_code


def _get_code_with_location(self: LambdaFunction) -> dict[str, Any]:
    response = _original_get_code(self)
    if self.code_bytes and response.get("Code", {}).get("RepositoryType") == "S3":
        response["Code"]["Location"] = _code_location(self)
    return response


def _serve_code(path: str, start_response) -> list[bytes]:
    try:
        account_id, region, name = path[len(CODE_ROUTE) :].split("/", 2)
        function = lambda_backends[account_id][region].get_function(name)
        body = function.code_bytes
    except Exception:  # any lookup failure is a plain 404, as S3 would answer
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such function code\n"]
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    start_response(
        "200 OK",
        [("Content-Type", "application/zip"), ("Content-Length", str(len(body))), ("x-code-sha256", digest)],
    )
    return [body]


def make_app():
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CODE_ROUTE) and environ.get("REQUEST_METHOD") == "GET":
            return _serve_code(path, start_response)
        return moto_app(environ, start_response)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    os.environ["RELEASE_KIT_MOTO_URL"] = f"http://{args.host}:{args.port}"
    LambdaFunction.get_code = _get_code_with_location
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, make_app(), threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
