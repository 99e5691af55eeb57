"""Stdlib-only environment provisioning: runs before any dependency exists."""
