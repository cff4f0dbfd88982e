"""Request checks, one module per part of the request, plus the response self-check."""
