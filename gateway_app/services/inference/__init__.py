"""The client API's work: model resolution, quotas, provider calls with resilience, usage."""
