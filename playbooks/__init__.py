"""cfremedy's built-in playbooks: one module per documented cause of a Cloudflare 5xx error.

Each module follows the playbook contract (docs/architecture.md): metadata as module-level
data, a docstring with Anti-pattern and Fix, `detect` and `plan_fix`. The registry discovers them from this package,
which ships with the install; the marker below tells it this package is ours.
"""

CFREMEDY_PLAYBOOKS = True
