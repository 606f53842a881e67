"""The SQL side of the index, shared by every domain: index state and leases
(``repository``), removals outside a lease (``removals``), BM25 corpus state (``state``)."""
