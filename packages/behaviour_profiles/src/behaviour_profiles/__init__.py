"""Behaviour Profiles: snapshot, store and compare Temporal DSQL behaviour."""
