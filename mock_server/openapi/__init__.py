"""Reading the OpenAPI document and matching requests to its operations."""
