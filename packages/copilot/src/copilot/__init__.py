"""The Copilot API host for Behaviour Profiles."""
