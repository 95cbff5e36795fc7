"""Typed wrappers over the services' gRPC stubs; they speak crm_platform/gateway errors."""
