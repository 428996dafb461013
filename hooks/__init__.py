"""The HTTP layer: Metacontroller's webhooks in, replies out. The work is in `compositions`."""
