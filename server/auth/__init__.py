"""Identity, access control and audit: bearer token verification (JWT, JWKS), per-object access
lists with roles, the audit log, abuse limits, and their REST routes.

Depends on ``server.protocol`` and ``server.storage``'s error type; the hub knows it only
through the per-connection guard that ``server.hub.session`` calls.
"""
