"""The binding layer: one request in, one typed rule call, one JSON answer out.

Each area of :mod:`mock_server.domain` has a module here that says which
operationId reaches which rule, reads the validated parameters and body,
and renders the result; statuses and headers are decided here, never in
the domain. :mod:`.registry` joins every binding to the resource registry.
"""
