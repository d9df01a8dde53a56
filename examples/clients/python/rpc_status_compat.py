"""A stand-in for grpcio-status's grpc_status.rpc_status, used only where
that package is not installed (Debian does not package it, and this
project's CI reaches no Python index). It has the one function the client
uses, with the same contract: from_call(call) returns the call's
google.rpc.Status from the grpc-status-details-bin trailer, or None, and
raises ValueError when the Status disagrees with the call's code or
message. Install grpcio-status (pip install grpcio-status) to use the real
one; client.py prefers it.
"""

from google.rpc import status_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


def from_call(call):
    """Returns the google.rpc.Status of a finished call, or None."""
    if call.trailing_metadata() is None:
        return None
    for key, value in call.trailing_metadata():
        if key == _STATUS_DETAILS_KEY:
            status = status_pb2.Status.FromString(value)
            if call.code().value[0] != status.code:
                raise ValueError(f"code in the Status proto ({status.code}) does not match the call's ({call.code()})")
            if call.details() != status.message:
                raise ValueError(f"message in the Status proto ({status.message!r}) does not match the call's ({call.details()!r})")
            return status
    return None
