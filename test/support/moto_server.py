"""moto's server (as `moto.server` runs it) with a request log for the tests.

Each AWS API call is logged on stderr as one line once it is answered, e.g.

    moto-request #412 t=+83.105s ec2 CreateLaunchTemplateVersion LaunchTemplateId=lt-1 ClientToken=terraform-2026... -> 200 in 35 ms

so a test can show which calls reached the emulator (and how often) when it fails: werkzeug's own
access log only says `POST / HTTP/1.1` for every query-protocol call. A response the client did not
wait for (it dropped the connection) is logged as `moto-connection-dropped`.

EC2 idempotency: EC2 answers a repeated request with the same ClientToken with the first result
(https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html); moto ignores the token
and acts again. The AWS provider retries a request whose answer it did not get with the same token,
so a retried CreateLaunchTemplateVersion made a second version under moto that EC2 would not have.
For the actions in IDEMPOTENT this server answers a repeat (same action, token and body) with the
first answer, logged as `replayed #N`, and a reuse of the token with other parameters with EC2's
IdempotentParameterMismatch.

Run with the project venv's python (scripts/setup.sh):
`python test/support/moto_server.py -H 127.0.0.1 -p PORT`.
"""
import argparse
import io
import json
import os
import re
import sys
import threading
import time
import urllib.parse

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, run_simple

# Parameters worth seeing in the log (identifiers and idempotency tokens; never data or secrets).
LOGGED = (
    "LaunchTemplateId", "LaunchTemplateName", "LaunchTemplateId.1", "SourceVersion", "DefaultVersion",
    "ClientToken", "AutoScalingGroupName", "LaunchTemplate.Version", "Name", "SecretId",
)
# EC2 actions that honour ClientToken on EC2 and that the stacks call (moto ignores the token).
IDEMPOTENT = {"CreateLaunchTemplate", "CreateLaunchTemplateVersion"}
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


class RequestLog:
    def __init__(self, app):
        self.app = app
        self.count = 0
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.answers = {}
        self.idempotent_lock = threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        params = {}
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        try:
            if target:  # JSON protocol (Secrets Manager, SSM)
                doc = json.loads(body or b"{}")
                params = {k: v for k, v in doc.items() if isinstance(v, str)}
            else:  # query protocol (EC2, ELBv2, Auto Scaling, IAM, STS)
                query = environ.get("QUERY_STRING", "") + "&" + body.decode("utf-8", "replace")
                params = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        except ValueError:
            pass
        scope = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = scope.group(1) if scope else "-"
        action = params.get("Action") or target.rsplit(".", 1)[-1] or f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
        with self.lock:
            self.count += 1
            n = self.count
        begin = time.monotonic()
        status = []

        def record(s, headers, exc_info=None):
            status.append(s.split(" ", 1)[0])
            return start_response(s, headers, exc_info)

        note = ""
        try:
            if service == "ec2" and action in IDEMPOTENT and params.get("ClientToken"):
                answer, note = self.idempotent(n, action, params["ClientToken"], body, environ)
                status.append(answer[0].split(" ", 1)[0])
                start_response(answer[0], answer[1])
                return [answer[2]]
            return self.app(environ, record)
        finally:
            shown = " ".join(f"{k}={params[k]}" for k in LOGGED if k in params)
            line = (
                f"moto-request #{n} t=+{begin - self.started:.3f}s {service} {action} {shown} -> "
                f"{status[0] if status else 'error'}{note} in {(time.monotonic() - begin) * 1000:.0f} ms\n"
            )
            os.write(2, line.encode())  # one write per line: requests are answered on many threads

    def idempotent(self, n, action, token, body, environ):
        """(status, headers, body) for an EC2 request with a ClientToken, and a log note."""
        with self.idempotent_lock:  # a retry waits for the first attempt's answer
            first = self.answers.get((action, token))
            if first is not None:
                first_n, first_body, answer = first
                if first_body == body:
                    return answer, f" replayed #{first_n}"
                error = (
                    '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>IdempotentParameterMismatch</Code>'
                    f"<Message>ClientToken {token} was used with other parameters</Message></Error></Errors>"
                    "<RequestID>idempotent-parameter-mismatch</RequestID></Response>"
                ).encode()
                return ("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(error)))], error), " mismatch"
            got = []
            chunks = self.app(environ, lambda s, h, exc_info=None: got.append((s, h)))
            try:
                data = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            answer = (got[0][0], list(got[0][1]), data)
            if answer[0].startswith("2"):
                self.answers[(action, token)] = (n, body, answer)
            return answer, ""


class Handler(WSGIRequestHandler):
    def connection_dropped(self, error, environ=None):
        os.write(2, f"moto-connection-dropped {type(error).__name__}: {error}\n".encode())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does: some services build URLs with it
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple(args.host, args.port, RequestLog(app), threaded=True, request_handler=Handler)


if __name__ == "__main__":
    main()
