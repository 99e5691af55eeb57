"""One module per `session-state` command; see session_state.cli."""
