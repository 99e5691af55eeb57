"""session-state: keeps a Claude Code session's thread across compaction, /clear, resume and fork.

Importing the package must cost nothing: hooks import only the modules their event needs.
"""

__version__ = "0.1.0"
