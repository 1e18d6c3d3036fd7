"""Logging filters."""

import logging


class RefusalsWithoutTraceback(logging.Filter):
    """A 4xx is a refusal the user was told about (403 forbidden, 404 unknown id), not a fault: Django logs it with
    the exception attached, which prints a traceback. Keep the one-line warning, drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
