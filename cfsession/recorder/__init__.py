"""The recorder: a shell in a PTY, every byte passed through, the stream split into commands."""

# Set once the user's shell runs under the recorder (recorder/pty.py): from then on a
# failure is the session's, not a start that failed (see _entry's CFSESSION_FALLBACK).
shell_started = False
