package dev.mesh.pilot.ca;

import io.grpc.Status;

/** A refused request, with the gRPC status Istio's CA answers it with. */
final class CaError extends Exception {
  private final Status.Code code;

  CaError(Status.Code code, String message) {
    super(message);
    this.code = code;
  }

  Status status() {
    return Status.fromCode(code).withDescription(getMessage());
  }
}
