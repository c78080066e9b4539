"""proxybo package."""
