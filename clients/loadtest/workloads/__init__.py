"""The workloads, one module each; ``WORKLOADS`` maps each name to its ``Workload``."""

from clients.loadtest.workloads import catch_up, editing, entities, idle
from clients.loadtest.workloads.base import ParentEnv, Workload

WORKLOADS: dict[str, Workload] = {
    "hot-doc": Workload(
        "hot-doc",
        "N editors on one document",
        editing.documents,
        editing.run_part,
    ),
    "many-docs": Workload(
        "many-docs",
        "N editors over M documents",
        editing.documents,
        editing.run_part,
    ),
    "fan-out": Workload(
        "fan-out",
        "few writers, many subscribers on one document",
        editing.documents,
        editing.run_part,
    ),
    "idle": Workload(
        "idle",
        "N silent subscribed connections: memory per connection, first-op latency",
        idle.documents,
        idle.run_part,
        before=idle.before,
        during=idle.during,
    ),
    "catch-up": Workload(
        "catch-up",
        "a client offline for K ops reconnects: time to converge",
        catch_up.documents,
        catch_up.run_part,
        single_process=True,
    ),
    "entities": Workload(
        "entities",
        "devices push outbox batches and pull the changes feed of one record collection",
        entities.documents,
        entities.run_part,
        after=entities.after,
    ),
}

__all__ = ["WORKLOADS", "ParentEnv", "Workload"]
