"""Writes of channels_app: inbound events, the outbox, channel rules and connections."""
