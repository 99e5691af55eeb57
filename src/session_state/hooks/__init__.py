"""Hook handlers, one module per Claude Code event; session_state.hooks.runner dispatches."""
