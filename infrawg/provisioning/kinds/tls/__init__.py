"""The TLS kind (R12): certificates from an ACME CA, proved by DNS-01 through the zones this
site hosts (`acme` provider, engine in providers/acme)."""
