"""The one base class of every error caused by user input (bad files, values, configs).

Command-line entry points print these as one line and exit with status 2; any
other exception is an internal error (status 1).
"""


class StylenetError(ValueError):
    """A problem with what the user gave us; the message names the value and the fix."""
