"""Clinical scores: pure functions of measurements, one module per rule family."""
