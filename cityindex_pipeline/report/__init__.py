"""The monthly report: its content, charts and templates."""
