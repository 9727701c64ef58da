"""Protocol v1: wire names, message parsing and error codes. Pure; no sockets."""
