"""The recorder: a shell in a PTY, every byte passed through, the stream split into commands."""
