"""Model providers: adapters for upstream APIs plus the built-in sandbox simulator."""
