"""Keeping the index fresh: the leased write protocol (``writer``), full reindex and
the scheduled refresh job (``freshness``)."""
