"""Running cases: one unit of work per use case (services, workspace), the operation that loads, acts and persists,
the case team, deployment of versions and migration of running cases."""
