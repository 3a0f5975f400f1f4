"""Tables, repository and protobuf mapping: where the domain meets storage and contracts."""
