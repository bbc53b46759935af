"""Exceptions that carry a one-line, user-facing message."""


class GridMapError(Exception):
    """A problem with the user's input or project, explained in one line.

    The CLI prints the message and exits with status 2; the app shows it in a
    message box. The message names the file, row or feature and the problem.
    """
