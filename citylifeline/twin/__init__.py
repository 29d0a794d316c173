"""Digital twins: simulated lifeline networks that produce realistic sensor readings with ground truth."""
