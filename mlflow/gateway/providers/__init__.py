"""Providers: each translates MLflow's gateway schemas to and from one provider's wire format,
sending through ``async_core.AsyncClient``."""
