"""The employer console: a static page at ``/`` that calls the ``/v1`` API from the browser."""
