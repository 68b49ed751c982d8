"""Audio conversion between Pipecat frames and Realtime session formats (no I/O)."""
