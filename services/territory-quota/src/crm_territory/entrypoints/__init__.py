"""The service's ways in: the gRPC API, the command line (and the event worker once it consumes events)."""
