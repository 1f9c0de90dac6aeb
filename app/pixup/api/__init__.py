"""The contract between pixup's front ends (CLI, desktop bridge, HTTP) and its services."""
