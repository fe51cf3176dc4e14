"""cityindex: the Communication Impact Index on Overseas Social Media of 133 Chinese cities.

The packages, from the bottom up: `core` (primitives), `warehouse` (storage: all SQL), the domain
(`reference`, `parsing`, `sources`, `method`, `cleaning`, `quality`, `publication`, `audit`,
`report`), `defs` (the Dagster wiring), `definitions` (the code location) and `cli` (the command
line and what it drives). The contract is in pyproject.toml (`[tool.importlinter]`).
"""
