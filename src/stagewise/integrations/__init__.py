"""Bridges to platforms teams already run (MLflow); each imports its platform lazily."""
