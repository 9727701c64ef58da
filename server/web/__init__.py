"""aiohttp adapters: the WebSocket transport, REST routes and the application factory."""
