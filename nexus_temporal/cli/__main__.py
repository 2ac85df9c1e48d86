"""``python -m nexus_temporal.cli``: the ``nexus`` command."""

from nexus_temporal.cli._app import run

if __name__ == "__main__":
    run()
