"""The ways in: the gRPC API, the event worker and the command line."""
