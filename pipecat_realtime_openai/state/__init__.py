"""Pure state machines the service consults: playback, function calls, response lifecycle."""
