"""The public wire faces of the gateway (Chat Completions, Responses, Messages); see `base`."""
