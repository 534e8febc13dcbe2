"""Study specs, search spaces, samplers and pruners by name, the objective and the controller."""
