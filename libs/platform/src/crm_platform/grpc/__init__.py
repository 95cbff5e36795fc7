"""gRPC plumbing: server builder, interceptors, error mapping and the client factory."""
