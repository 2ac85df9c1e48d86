"""``nexus emulators PATH``: run the local cloud emulators an example declares, until Ctrl-C.

The verb's arguments and handler are still in :mod:`activities.emulators.cli` (the activities
package is refactored separately); this module is its place in the command line.
"""

from __future__ import annotations

from activities.emulators.cli import handle, register

__all__ = ["handle", "register"]
