"""The base of every error a user can cause and fix; entry points print these in one line."""


class PhonelstmError(Exception):
    """Bad input (file, data, config or checkpoint); the message says what and where."""
