"""moto in server mode, plus the two things the kit needs that moto lacks: a Lambda function's code download,
and an ECS deployment per task definition change.

On AWS, ``lambda:GetFunction`` returns ``Code.Location``, a short-lived URL from which the deployed package
can be downloaded. moto returns a made-up S3 address that nothing serves. This launcher runs the standard
moto server and rewrites that address to a route on the same server that returns the stored package bytes,
so the local invoker (``release/invoke.py``) downloads the deployed package exactly as it would on AWS.

On AWS, an UpdateService that changes the task definition starts a new PRIMARY deployment of it (the old one
drains and goes). moto changes the service's task definition but leaves its one deployment naming the old
one, so `verify` (which requires the PRIMARY deployment to run Terraform's task definition) would fail after
every image change. The launcher gives such an update a new deployment of the new task definition, in the
state ECS reaches once it is done (moto runs no tasks to wait for).

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
from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend
from moto.moto_api._internal import mock_random
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


_original_update_service = EC2ContainerServiceBackend.update_service


def _update_service_with_deployment(self: EC2ContainerServiceBackend, service_properties: dict[str, Any]):
    service = _original_update_service(self, service_properties)
    deployments = service.deployments
    if deployments and deployments[0].get("taskDefinition") != service.task_definition:
        deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
        done = service.running_count >= service.desired_count
        progress = "completed" if done else "in progress"
        now = utcnow()
        service.deployments = [
            {
                **deployments[0],
                "id": deployment_id,
                "taskDefinition": service.task_definition,
                "desiredCount": service.desired_count,
                "runningCount": service.running_count,
                "pendingCount": service.pending_count,
                "rolloutState": "COMPLETED" if done else "IN_PROGRESS",
                "rolloutStateReason": f"ECS deployment {deployment_id} {progress}.",
                "createdAt": now,
                "updatedAt": now,
            }
        ]
    return service


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
    EC2ContainerServiceBackend.update_service = _update_service_with_deployment
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, make_app(), threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
