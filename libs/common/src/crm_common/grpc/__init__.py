"""gRPC bootstrap: the server with its interceptors, and channels that propagate the call."""
