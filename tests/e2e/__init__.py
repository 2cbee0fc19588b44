"""End-to-end tests: the real vendor CLIs and SDKs talking to the proxy, which talks to the fake vendor."""
