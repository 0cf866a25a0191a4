"""quota-service use cases and event handlers (plain async functions taking a unit of work)."""
