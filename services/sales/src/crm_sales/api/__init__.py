"""gRPC servicers (thin) and proto <-> domain mappers."""
