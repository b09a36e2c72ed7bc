"""Shared infrastructure of the apps: Redis clients (redis_clients, the sockets' pipelined
client), the database threads the sockets' calls run in (db), and rate limits (ratelimit).

It imports none of the apps (chat, visitors, operators) nor the project's wiring
(whitepanel): they import it (docs/architecture.md, "Layers"; tests/test_layers.py)."""
