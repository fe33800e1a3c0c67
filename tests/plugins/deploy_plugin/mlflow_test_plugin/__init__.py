"""A test plugin package (the name MLflow's own test plugin uses, so MLflow's tests find it)."""
