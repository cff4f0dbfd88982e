"""``make bench``: the mock against a bare Starlette baseline on the same server stack."""
