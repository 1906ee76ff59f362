"""Real-time chat: the WebSocket protocol, hub, brokers and endpoint."""
