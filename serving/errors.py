"""The one error type the serving code raises for a request it cannot serve.

Every rejection carries a gRPC status code, so the gRPC front end can abort
with it and the REST front end can map it to TF Serving's HTTP status
(``serving.rest``); the server keeps running either way.
"""

from __future__ import annotations

import grpc


class ServingError(Exception):
    """A request failure with the gRPC status code that describes it.

    Args:
        code: e.g. ``grpc.StatusCode.INVALID_ARGUMENT``.
        message: what was wrong, phrased for the client.
    """

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def status_code(error: Exception) -> grpc.StatusCode:
    """The gRPC status of a failure: a ``ServingError``'s own code, a
    ``tf.errors.OpError``'s (TensorFlow numbers its codes as gRPC does), or
    UNKNOWN."""
    if isinstance(error, ServingError):
        return error.code
    number = getattr(error, "error_code", None)
    return next(
        (code for code in grpc.StatusCode if code.value[0] == number),
        grpc.StatusCode.UNKNOWN,
    )


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)
