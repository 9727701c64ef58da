"""coedit clients: the Python client, the load tester and the browser client\x27s assets."""
