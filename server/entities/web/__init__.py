"""The entities API over HTTP (aiohttp): records, changes feed, outbox batches, Server-Sent
Events; ``install`` adds it to the application."""

from server.entities.web.install import install

__all__ = ["install"]
