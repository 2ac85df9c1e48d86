"""``nexus ui``: a NEXUS execution drawn on its definition's graph, in the browser (docs/ui.md).

- :mod:`~nexus_temporal.ui.events`: what history recorded, per state (visits, calls);
- :mod:`~nexus_temporal.ui.model`: each state's status and the JSON the API answers;
- :mod:`~nexus_temporal.ui.graph`: the definition as graph elements;
- :mod:`~nexus_temporal.ui.source`: reading executions through the Temporal API;
- :mod:`~nexus_temporal.ui.server`: the HTTP server, the page (``static/``) and the API;
- :mod:`~nexus_temporal.ui.actions`: the redrive and rerun buttons.
"""

from nexus_temporal.ui.model import STATUSES, execution_view
from nexus_temporal.ui.server import Loop, UIServer
from nexus_temporal.ui.source import Source

__all__ = ["STATUSES", "Loop", "Source", "UIServer", "execution_view"]
