"""Observability: Prometheus metrics (``/metrics``), structured logs with request ids.

Depends on the hub only through its ``HubObserver`` interface; the hub never imports this.
"""

from server.observability.metrics import Metrics
from server.observability.web import METRICS

__all__ = ["METRICS", "Metrics"]
