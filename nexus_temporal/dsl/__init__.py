"""The NEXUS YAML format: load, check and compile definitions into immutable plans."""

from nexus_temporal.dsl.compiler import compile_file, compile_many, compile_text
from nexus_temporal.dsl.errors import DefinitionError, DefinitionIssue, Location
from nexus_temporal.dsl.plan import Plan, Scope, Target
from nexus_temporal.dsl.schema import Definition

__all__ = [
    "Definition",
    "DefinitionError",
    "DefinitionIssue",
    "Location",
    "Plan",
    "Scope",
    "Target",
    "compile_file",
    "compile_many",
    "compile_text",
]
