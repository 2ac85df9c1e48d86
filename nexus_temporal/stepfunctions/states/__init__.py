"""One converter per ASL state type: ``<type>.convert(ctx: StateContext) -> list[NEXUS state]``.

``convert.CONVERTERS`` maps each ASL ``Type`` to its module's ``convert``; every converter reads
the state through the public :class:`~nexus_temporal.stepfunctions.context.StateContext`.
"""
