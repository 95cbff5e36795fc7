"""The CRM gateway: REST/JSON in front of the gRPC services; owns identity."""
