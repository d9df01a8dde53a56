#!/usr/bin/python3
"""Calls guardgen from Python with generated stubs.

1. Generate a guardgen.examples.v1.TicketClassification and unpack the
   google.protobuf.Any into the generated Python class.
2. Ask for one that the (synthetic) provider's content filter blocks, and read
   the guardgen.v1.FailureDetail from the status details with grpcio-status's
   rpc_status.from_call: the google.rpc.Status whose details are Anys.
3. Stream one with GenerateStream and print its partial messages as the model
   writes them (each with the fields complete so far), then the response.

The channel uses guardgen's published service config (server/service_config.json):
retries on UNAVAILABLE and RESOURCE_EXHAUSTED that honour the server's retry
pushback.

Run ./generate.sh first (Debian packages only, no Go toolchain). GUARDGEN_ADDR names the server (default
localhost:50051). Exits non-zero when an answer is not as expected.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))

import grpc  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402

try:
    from grpc_status import rpc_status  # grpcio-status, where installed
except ImportError:  # Debian has no grpcio-status package
    import rpc_status_compat as rpc_status  # noqa: E402
from guardgen.examples.v1 import examples_pb2  # noqa: E402
from guardgen.v1 import failure_pb2, generation_pb2, generation_pb2_grpc  # noqa: E402

ADDR = os.environ.get("GUARDGEN_ADDR", "localhost:50051")
PROMPT = "I was charged twice for my subscription this month"
TARGET = "guardgen.examples.v1.TicketClassification"


def check(ok, what):
    if not ok:
        sys.exit(f"FAIL: {what}")


SERVICE_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "server", "service_config.json")


def main():
    with open(SERVICE_CONFIG) as f:
        options = [("grpc.service_config", f.read()), ("grpc.enable_retries", 1)]
    with grpc.insecure_channel(ADDR, options=options) as channel:
        stub = generation_pb2_grpc.GenerationServiceStub(channel)
        request = generation_pb2.GenerateRequest(prompt=PROMPT, target_type=TARGET)

        # 1. A validated message.
        response = stub.Generate(request, timeout=30)
        check(response.message.Is(examples_pb2.TicketClassification.DESCRIPTOR),
              f"message is a {response.message.type_url}, want {TARGET}")
        ticket = examples_pb2.TicketClassification()
        response.message.Unpack(ticket)
        print(f"TicketClassification: category={ticket.category} priority={ticket.priority} "
              f"summary={ticket.summary!r} (attempts={len(response.report.attempts)}, "
              f"degraded={response.degraded})")
        check(ticket.category in ("billing", "technical", "account", "other"), "category")
        check(1 <= ticket.priority <= 5, "priority in 1..5")
        check(ticket.summary != "", "summary set")

        # 2. A classified failure.
        try:
            stub.Generate(request, timeout=30,
                          metadata=[("x-guardgen-synthetic-faults", "content_filter")])
        except grpc.RpcError as err:
            code, status = err.code(), rpc_status.from_call(err)
        else:
            sys.exit("FAIL: a content-filtered call succeeded")
        check(status is not None, "no grpc-status-details-bin trailer")
        check(status.code == code.value[0], f"status code {status.code} != {code}")
        detail, info = None, None
        for any_msg in status.details:
            if any_msg.Is(failure_pb2.FailureDetail.DESCRIPTOR):
                detail = failure_pb2.FailureDetail()
                any_msg.Unpack(detail)
            elif any_msg.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                any_msg.Unpack(info)
        check(detail is not None, "no guardgen.v1.FailureDetail in the status details")
        domain = failure_pb2.FailureDomain.Name(detail.domain)
        action = failure_pb2.RecoveryAction.Name(detail.action)
        print(f"{code.name}: domain={domain} action={action} recoverable={detail.recoverable} "
              f"reason={failure_pb2.FailureReason.Name(detail.reason)} attempts={detail.attempts} "
              f"error_info={info.reason if info else None}@{info.domain if info else None}")
        check(code == grpc.StatusCode.FAILED_PRECONDITION, f"code {code.name}, want FAILED_PRECONDITION")
        check(domain == "FAILURE_DOMAIN_INPUT_CONSTRAINT", "domain")
        check(action == "RECOVERY_ACTION_REJECT_AND_FIX", "action")
        check(detail.recoverable is False, "recoverable must be false for REJECT_AND_FIX")
        check(detail.attempts == 1, "a content filter is never retried")
        check(info is not None and info.reason == "CONTENT_FILTER", "ErrorInfo reason CONTENT_FILTER")

        # 3. A stream: partial messages as fields complete, then the response.
        # A reset means the partials of that attempt are void: drop them.
        partials, final = [], None
        for event in stub.GenerateStream(request, timeout=30):
            kind = event.WhichOneof("event")
            if kind == "partial":
                p = event.partial
                partials.append(list(p.complete_fields))
                print(f"partial {len(partials)} (attempt {p.attempt}): complete={list(p.complete_fields)} "
                      f"closed={p.closed} json={p.json}")
            elif kind == "reset":
                print(f"reset of attempt {event.reset.attempt}: "
                      f"{generation_pb2.ResetReason.Name(event.reset.reason)}")
                partials = []
            elif kind == "response":
                final = event.response
        check(final is not None, "the stream ended without its response")
        check(len(partials) >= 3, f"{len(partials)} partials, want 3 or more")
        check(all(len(a) < len(b) for a, b in zip(partials, partials[1:])), "complete fields grow from partial to partial")
        streamed = examples_pb2.TicketClassification()
        final.message.Unpack(streamed)
        print(f"streamed TicketClassification: category={streamed.category} priority={streamed.priority} "
              f"summary={streamed.summary!r} after {len(partials)} partials")
        check(streamed == ticket, "the stream's response is Generate's message")
    print("python client: ok")


if __name__ == "__main__":
    main()
