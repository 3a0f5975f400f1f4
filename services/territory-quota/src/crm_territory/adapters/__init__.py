"""Tables, repositories, protobuf events and mappings, clients of other services."""
