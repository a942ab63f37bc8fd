"""asyncio runtime (layer L4): sockets, the clock and the one owner task."""
