"""coedit's server: the document hub, REST API and storage adapters around the pure ``ot`` core."""
